module kled.dev/examples/go

go 1.19

require kled.dev/bindings/go v0.0.0

// The binding from this repository, not from the network.
replace kled.dev/bindings/go => ../../bindings/go
