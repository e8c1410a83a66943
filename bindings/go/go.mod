module kled.dev/bindings/go

go 1.19
