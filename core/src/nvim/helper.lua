-- kled's helper inside Neovim: loaded once per Neovim server (nvim_exec_lua)
-- and reused by every client that connects. Commands run as Neovim jobs;
-- their output and exit come back to the calling client as rpcnotify
-- messages ("kled_exec", token, kind, ...), so no RPC request ever blocks
-- Neovim's single main loop: a blocking jobwait() inside a request would
-- serialize every concurrent exec (and every editor call) behind the
-- slowest command.
local version = ...
if _G.kled_rt and _G.kled_rt.version == version then
  return true
end

local M = { version = version, jobs = {} }
_G.kled_rt = M
local uv = vim.loop
vim.o.autoread = true

local LOG_NAME = 'kled://log'
local LOG_MAX_LINES = 10000

-- The visible log: one line per command and one per exit, in a scratch
-- buffer that a person attaching later can read.
local function log(lines)
  local buf = M.logbuf
  if not buf or not vim.api.nvim_buf_is_valid(buf) then
    buf = vim.fn.bufnr(LOG_NAME)
    if buf == -1 then
      buf = vim.api.nvim_create_buf(true, true)
      vim.api.nvim_buf_set_name(buf, LOG_NAME)
    end
    M.logbuf = buf
  end
  for i, l in ipairs(lines) do
    lines[i] = l:gsub('[\r\n%z]', ' ')
  end
  local n = vim.api.nvim_buf_line_count(buf)
  if n == 1 and vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == '' then
    vim.api.nvim_buf_set_lines(buf, 0, 1, false, lines)
  else
    vim.api.nvim_buf_set_lines(buf, -1, -1, false, lines)
    if n + #lines > LOG_MAX_LINES then
      vim.api.nvim_buf_set_lines(buf, 0, n + #lines - LOG_MAX_LINES, false, {})
    end
  end
end

function M.log_lines()
  if not M.logbuf or not vim.api.nvim_buf_is_valid(M.logbuf) then
    return {}
  end
  return vim.api.nvim_buf_get_lines(M.logbuf, 0, -1, false)
end

-- Starts argv as a job. opts: env (map), cwd, stdin (bytes), timeout_ms,
-- max_output (per stream), display (the command as the user wrote it).
-- Returns at once; the output and the exit arrive as notifications.
function M.exec(chan, token, argv, opts)
  local t0 = uv.hrtime()
  local function notify(...)
    vim.rpcnotify(chan, 'kled_exec', token, ...)
  end
  local display = opts.display or table.concat(argv, ' ')
  -- Failures before the program runs: the exit codes a shell would give.
  local function early(code, msg)
    log({ '$ ' .. display, '[exit ' .. code .. ']' })
    notify('e', msg)
    notify('x', code, false, false, (uv.hrtime() - t0) / 1e6)
    return 0
  end
  if opts.cwd and vim.fn.isdirectory(opts.cwd) == 0 then
    return early(127, 'kled: cannot change directory to ' .. opts.cwd .. ': No such directory\n')
  end
  if vim.fn.executable(argv[1]) == 0 then
    if argv[1]:find('/', 1, true) and uv.fs_stat(argv[1]) then
      return early(126, 'kled: ' .. argv[1] .. ': Permission denied\n')
    end
    return early(127, 'kled: ' .. argv[1] .. ': command not found\n')
  end
  -- libuv runs programs with execvp, which hands a file without a #! line
  -- to /bin/sh; the other runtimes use execve, which refuses it (ENOEXEC).
  -- Refuse it here too, so argv commands mean the same everywhere.
  do
    local f = io.open(vim.fn.exepath(argv[1]), 'rb')
    if f then
      local magic = f:read(4) or ''
      f:close()
      if magic:sub(1, 2) ~= '#!' and magic ~= '\127ELF' then
        return early(126, 'kled: ' .. argv[1] .. ': cannot execute: Exec format error\n')
      end
    end
  end
  local job = { max = opts.max_output, n = { o = 0, e = 0 }, truncated = false, timed_out = false }
  -- Job output arrives as lists of lines: items are joined with "\n", and
  -- a NUL byte shows up as "\n" inside an item. A chunk's last item is
  -- continued by the next chunk's first, so concatenating chunks is exact.
  local function sink(kind)
    return function(_, data)
      if #data == 1 and data[1] == '' then
        return
      end
      for i, item in ipairs(data) do
        data[i] = item:gsub('\n', '\0')
      end
      local s = table.concat(data, '\n')
      local room = job.max - job.n[kind]
      if #s > room then
        s = s:sub(1, room)
        job.truncated = true
      end
      if #s > 0 then
        job.n[kind] = job.n[kind] + #s
        notify(kind, s)
      end
    end
  end
  local env = opts.env
  if env and next(env) == nil then
    env = nil
  end
  local ok, id = pcall(vim.fn.jobstart, argv, {
    cwd = opts.cwd,
    env = env,
    -- Its own session and process group: a timeout kills the whole tree.
    detach = true,
    on_stdout = sink('o'),
    on_stderr = sink('e'),
    on_exit = function(_, code)
      if job.timer then
        job.timer:stop()
        job.timer:close()
      end
      M.jobs[chan .. ':' .. token] = nil
      log({ '[exit ' .. code .. (job.timed_out and ', timed out' or '') .. ']' })
      notify('x', code, job.timed_out, job.truncated, (uv.hrtime() - t0) / 1e6)
    end,
  })
  if not ok or id <= 0 then
    -- It exists but could not be run (no #! line, a bad format): as a shell says.
    local path = vim.fn.exepath(argv[1])
    if path ~= '' or uv.fs_stat(argv[1]) then
      return early(126, 'kled: ' .. argv[1] .. ': cannot execute\n')
    end
    return early(127, 'kled: cannot start ' .. argv[1] .. ': ' .. tostring(id) .. '\n')
  end
  job.pid = vim.fn.jobpid(id)
  M.jobs[chan .. ':' .. token] = job
  log({ '$ ' .. display })
  if opts.stdin then
    -- A list is written joined by "\n", with "\n" inside items sent as NUL.
    local lines = vim.split(opts.stdin, '\n', { plain = true })
    for i, l in ipairs(lines) do
      lines[i] = l:gsub('%z', '\n')
    end
    vim.fn.chansend(id, lines)
  end
  vim.fn.chanclose(id, 'stdin')
  if opts.timeout_ms then
    job.timer = uv.new_timer()
    job.timer:start(opts.timeout_ms, 0, function()
      job.timed_out = true
      pcall(uv.kill, -job.pid, 'sigkill')
    end)
  end
  return id
end

-- Signals the process group of a job this client started.
function M.kill(chan, token, sig)
  local job = M.jobs[chan .. ':' .. token]
  if job then
    pcall(uv.kill, -job.pid, sig)
  end
  return true
end

-- Kills every job (before the server quits: jobs are detached).
function M.kill_all()
  for _, job in pairs(M.jobs) do
    pcall(uv.kill, -job.pid, 'sigkill')
  end
  return true
end

-- Files. Errors come back as { err = code, msg = text }.
local function fail(code, msg)
  return { err = code, msg = msg }
end

local function errcode(e)
  if e and (e:find('ENOENT') or e:find('No such file')) then
    return 'not_found'
  end
  return 'io'
end

function M.read(path)
  local st, e = uv.fs_stat(path)
  if not st then
    return fail(errcode(e), 'cannot read ' .. path .. ': ' .. tostring(e))
  end
  if st.type == 'directory' then
    return fail('invalid', path .. ' is a directory')
  end
  local f, e2 = io.open(path, 'rb')
  if not f then
    return fail(errcode(e2), 'cannot read ' .. path .. ': ' .. tostring(e2))
  end
  local data = f:read('*a')
  f:close()
  return { data = data }
end

function M.write(path, data, mode, create_dirs)
  local dir = vim.fn.fnamemodify(path, ':h')
  if create_dirs and vim.fn.isdirectory(dir) == 0 then
    vim.fn.mkdir(dir, 'p')
  end
  local st = uv.fs_stat(path)
  if st and st.type == 'directory' then
    return fail('invalid', path .. ' is a directory')
  end
  if mode == vim.NIL then
    mode = nil
  end
  mode = mode or (st and st.mode % 4096) or 420
  local tmp = dir .. '/.kled-' .. uv.hrtime() .. '.tmp'
  local f, e = io.open(tmp, 'wb')
  if not f then
    return fail(errcode(e), 'cannot write ' .. path .. ': ' .. tostring(e))
  end
  local okw, ew = f:write(data)
  f:close()
  if not okw then
    os.remove(tmp)
    return fail('io', 'cannot write ' .. path .. ': ' .. tostring(ew))
  end
  uv.fs_chmod(tmp, mode)
  local okr, er = os.rename(tmp, path)
  if not okr then
    os.remove(tmp)
    return fail('io', 'cannot write ' .. path .. ': ' .. tostring(er))
  end
  return { bytes = #data }
end

function M.list(path)
  local handle, e = uv.fs_scandir(path)
  if not handle then
    return fail(errcode(e), 'cannot list ' .. path .. ': ' .. tostring(e))
  end
  local out = {}
  while true do
    local name = uv.fs_scandir_next(handle)
    if not name then
      break
    end
    local st = uv.fs_lstat(path .. '/' .. name)
    local kind = 'other'
    if st then
      if st.type == 'file' then
        kind = 'file'
      elseif st.type == 'directory' then
        kind = 'dir'
      elseif st.type == 'link' then
        kind = 'symlink'
      end
    end
    table.insert(out, { name = name, kind = kind, size = st and st.size or 0, mode = st and st.mode % 4096 or 0, mtime = st and st.mtime and st.mtime.sec or 0 })
  end
  table.sort(out, function(a, b)
    return a.name < b.name
  end)
  return { entries = out }
end

function M.remove(path, recursive)
  vim.fn.delete(path, recursive and 'rf' or '')
  return true
end

function M.which(programs)
  local out = {}
  for i, p in ipairs(programs) do
    local found = vim.fn.exepath(p)
    out[i] = found ~= '' and found or vim.NIL
  end
  return out
end

function M.info()
  local u = uv.os_uname()
  return {
    pid = uv.os_getpid(),
    uid = uv.getuid(),
    hostname = uv.os_gethostname(),
    kernel_release = u.release,
    kernel_version = u.version,
    os = u.sysname:lower(),
    arch = u.machine,
    cwd = uv.cwd(),
  }
end

-- Editor operations on a file's buffer (loaded on first use). Line
-- numbers are zero-based, end-exclusive, as in nvim_buf_get_lines.
local function buffer(path)
  local b = vim.fn.bufadd(path)
  if vim.api.nvim_buf_is_loaded(b) then
    if not vim.bo[b].modified then
      vim.api.nvim_buf_call(b, function()
        vim.cmd('silent! checktime')
      end)
    end
  else
    vim.fn.bufload(b)
  end
  vim.bo[b].buflisted = true
  return b
end

local function bufinfo(b)
  return {
    number = b,
    name = vim.api.nvim_buf_get_name(b),
    lines = vim.api.nvim_buf_line_count(b),
    modified = vim.bo[b].modified,
    loaded = vim.api.nvim_buf_is_loaded(b),
  }
end

function M.open(path)
  return bufinfo(buffer(path))
end

function M.buffers()
  local out = {}
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    -- Listed buffers with a name: files, and the log (not the empty start buffer).
    if vim.bo[b].buflisted and vim.api.nvim_buf_get_name(b) ~= '' then
      table.insert(out, bufinfo(b))
    end
  end
  return out
end

function M.get_lines(path, s, e)
  return vim.api.nvim_buf_get_lines(buffer(path), s, e, true)
end

function M.set_lines(path, s, e, lines)
  local b = buffer(path)
  vim.api.nvim_buf_set_lines(b, s, e, true, lines)
  return bufinfo(b)
end

function M.write_buffer(path)
  local b = buffer(path)
  vim.api.nvim_buf_call(b, function()
    vim.cmd('silent write!')
  end)
  return bufinfo(b)
end

return true
