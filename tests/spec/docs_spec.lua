-- docs_spec.lua: every example in the documentation is a test. The code blocks of
-- README.md and docs/*.md are extracted and run with the hasme executable, and what
-- they print is compared with the output shown after them in the docs.
--
-- What is run (the rules are also in docs/design.md, "Examples are tests"):
--   * a ```lua block runs as a script (in a fresh temporary directory). When the
--     next block follows it after blank lines or one sentence ending in ':', and is
--     a plain ``` block or an indented block whose first line is "$ build/hasme
--     FILE", that block is its output, compared line by line;
--   * a block (plain ``` or indented) of "$ COMMAND" lines, each followed by its
--     output, that is not the output of a Lua block: each command that runs hasme
--     (or build/hasme) runs through the shell and its output is compared; with no
--     output shown it must succeed. "$ cat FILE" writes the lines that follow to
--     FILE. When the lines hold "hasme> " prompts, the command is a REPL session:
--     the text typed after each prompt is fed to the REPL. Other commands (make,
--     export, ...) are shown, not run, and counted;
--   * the script is named "input", so that error messages read "input:N:"; in a file
--     holding the line "<!-- docs-test: global hasme -->" (api.md, whose examples
--     omit the require) it runs with "-l hasme";
--   * a Lua block that cannot run on its own (a fragment of a file, a sketch) is
--     preceded by the line "<!-- docs-test: fragment -->"; the spec counts them.
-- Comparison: exact, after a few substitutions applied to both sides for what
-- differs between runs and machines: durations ("0.304 s" and the number after
-- "elapsed"), the thread count of a default run ("2 threads", "threads = 2"), and
-- addresses ("table: 0x..."). Monte Carlo figures are compared exactly: every
-- example is seeded, and a seeded run gives bit-identical results on any machine
-- and for any number of threads. A block whose output line contains "..." on its
-- own accepts any lines there.
local U = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "spec_util.lua")
local readfile, writefile, q, ROOT, BUILD, BIN = U.readfile, U.writefile, U.q, U.ROOT, U.BUILD,
                                                U.BIN

-- {=====================================================================
-- Extraction
-- =====================================================================

-- The blocks of a Markdown file, in order: {kind = "fenced"|"indented", lang, lines,
-- first (line number), fragment (marked), gap (the lines since the previous block)}.
local function blocks(path)
  local lines = {}
  for line in io.lines(path) do lines[#lines + 1] = line end
  local out, i, gap, marker = { global = false }, 1, {}, nil
  while i <= #lines do
    local line = lines[i]
    local lang = line:match("^```(%w*)%s*$")
    if lang then
      local b = { kind = "fenced", lang = lang, lines = {}, first = i, gap = gap, marker = marker }
      i = i + 1
      while i <= #lines and not lines[i]:match("^```%s*$") do
        b.lines[#b.lines + 1] = lines[i]
        i = i + 1
      end
      out[#out + 1] = b
      gap, marker = {}, nil
    elseif line:match("^    ") and (i == 1 or lines[i - 1]:match("^%s*$")) and not (#gap > 0 and gap[#gap]:match("^%s*[-*%d]")) then
      local b = { kind = "indented", lang = "", lines = {}, first = i, gap = gap, marker = marker }
      while i <= #lines and (lines[i]:match("^    ") or (lines[i]:match("^%s*$")
            and lines[i + 1] and lines[i + 1]:match("^    "))) do
        b.lines[#b.lines + 1] = lines[i]:sub(5)
        i = i + 1
      end
      i = i - 1
      out[#out + 1] = b
      gap, marker = {}, nil
    else
      local m = line:match("^<!%-%- docs%-test: (.-) %-%->$")
      if m == "global hasme" then out.global = true
      elseif m then marker = m
      else gap[#gap + 1] = line end
    end
    i = i + 1
  end
  return out
end

-- Whether the lines between two blocks let the second be the output of the first:
-- blank lines, or one sentence ending in ':'.
local function attached(gap)
  local text = {}
  for _, l in ipairs(gap) do
    if not l:match("^%s*$") then text[#text + 1] = l end
  end
  return #text == 0 or (#text == 1 and text[1]:match(":%s*$") ~= nil)
end

-- }=====================================================================

-- {=====================================================================
-- Running
-- =====================================================================

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. q(d)))
  return d
end

-- Run a shell command line in dir with stdin from input. Returns what a terminal
-- would show: stdout (line-buffered, through stdbuf) and stderr merged in the order
-- they were written. LUA_INIT and the REPL history are cleared.
local ASAN = (os.getenv("ASAN_OPTIONS") and os.getenv("ASAN_OPTIONS") .. ":" or "")
  .. "verify_asan_link_order=0"
local function run(dir, cmdline, input)
  local inp, out = dir .. "/.stdin", dir .. "/.stdout"
  writefile(inp, input or "")
  -- stdbuf preloads its library, which the sanitizer build's runtime would refuse
  -- to follow unless told that the order does not matter here.
  os.execute(("cd %s && env -u LUA_INIT -u LUA_INIT_5_4 HASME_HISTORY= "
    .. "ASAN_OPTIONS=%s stdbuf -oL sh -c %s < %s > %s 2>&1")
    :format(q(dir), q(ASAN), q(cmdline .. '; echo "[exit $?]"'), q(inp), q(out)))
  local o = readfile(out)
  os.remove(inp); os.remove(out)
  return o
end

-- The substitutions applied to both sides before comparing.
local function normalise(s)
  s = s:gsub("%d+%.%d+ s\n", "<time> s\n")
  s = s:gsub("%d+%.%d+ s,", "<time> s,")
  s = s:gsub("(elapsed%s*=?%s*)[%d%.e%-]+", "%1<time>")
  s = s:gsub("%d+ threads?%f[^%w]", "<n> threads")
  s = s:gsub("threads = %d+", "threads = <n>")
  s = s:gsub("0x%x+", "0x?")
  return s
end

-- Compare what the program printed with the expected lines. A line "..." (indented
-- or not) matches any lines.
local function matches(expected, got)
  local exp = normalise(table.concat(expected, "\n") .. "\n")
  local wild = false
  for _, l in ipairs(expected) do
    if l:match("^%s*%.%.%.%s*$") then wild = true end
  end
  local pat
  if wild then
    local parts = {}
    for _, l in ipairs(expected) do
      if l:match("^%s*%.%.%.%s*$") then parts[#parts + 1] = ".-"
      else parts[#parts + 1] = normalise(l):gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0") .. "\n" end
    end
    pat = "^" .. table.concat(parts) .. "$"
  end
  got = normalise(got)
  return (wild and got:match(pat) ~= nil) or (not wild and got == exp)
end

-- A REPL transcript: the input typed after the prompts, and what plain (non-terminal)
-- mode prints for it: the same transcript without the typed text.
local function transcript(lines)
  local input, expected = {}, {}
  local pending = ""
  for _, l in ipairs(lines) do
    local prompt, typed = l:match("^(hasme> )(.*)$")
    if not prompt then prompt, typed = l:match("^(>> )(.*)$") end
    if prompt then
      input[#input + 1] = typed
      pending = pending .. prompt
    else
      expected[#expected + 1] = pending .. l
      pending = ""
    end
  end
  -- The prompt at which the input ends, and the newline the REPL prints on leaving.
  expected[#expected + 1] = pending .. "hasme> "
  return table.concat(input, "\n") .. "\n", expected
end

-- }=====================================================================

local FILES = { "README.md" }
do
  local p = assert(io.popen("ls docs/*.md"))
  for f in p:lines() do FILES[#FILES + 1] = f end
  p:close()
end

local counts = { lua = 0, compared = 0, commands = 0, fragments = 0, shell = 0 }

-- The command of a "$ ..." line as run here, or nil when it does not run hasme:
-- the words build/hasme and hasme become the executable under test.
local function command(line)
  local cmd = line:match("^%$ (.*)$")
  if not cmd then return nil end
  local found = false
  -- In command position only: at the start, or after a pipe, ';', '&&' or '('.
  cmd = ("; " .. cmd):gsub("([|;&(]%s*)(b?u?i?l?d?/?hasme)(%f[%s;|&)%z])", function(pre, word)
    if word ~= "hasme" and word ~= "build/hasme" then return nil end
    found = true
    return pre .. "\0"
  end)
  if not found then return nil end
  return (cmd:gsub("%z", q(BIN)):sub(3))
end

-- The segments of a block of commands: each "$ " line with the lines after it.
local function segments(lines)
  local out = {}
  for _, l in ipairs(lines) do
    if l:match("^%$ ") then out[#out + 1] = { cmd = l, lines = {} }
    elseif #out > 0 then out[#out].lines[#out[#out].lines + 1] = l end
  end
  for _, sg in ipairs(out) do
    while #sg.lines > 0 and sg.lines[#sg.lines] == "" do sg.lines[#sg.lines] = nil end
  end
  return out
end

local function fail(expected, got)
  error(("output differs\n--- docs\n%s\n--- program\n%s"):format(
    table.concat(expected, "\n"), got), 0)
end

describe("documentation examples", function()
  for _, file in ipairs(FILES) do
    describe(file, function()
      -- The blocks of a page run in order in one directory, as a reader who follows
      -- the page would run them: a later block may use a file an earlier one wrote.
      local dir
      setup(function()
        dir = tmpdir()
        -- The shipped experiments, for the commands that name them.
        os.execute(("ln -s %s %s"):format(q(ROOT .. "/experiments"), q(dir .. "/experiments")))
      end)
      teardown(function() os.execute("rm -rf " .. q(dir)) end)
      local bs = blocks(file)
      local used = {}
      for n, b in ipairs(bs) do
        local nextb = bs[n + 1]
        if b.lang == "lua" then
          counts.lua = counts.lua + 1
          if b.marker == "fragment" then
            counts.fragments = counts.fragments + 1
          else
            local out
            if nextb and attached(nextb.gap) and nextb.lang == "" and nextb.marker == nil then
              out = nextb
              used[n + 1] = true
              counts.compared = counts.compared + 1
            end
            it(("line %d runs%s"):format(b.first, out and " and prints what the docs show" or ""), function()
              local expected = out and out.lines or nil
              local script, args = "input", nil
              local cmdline
              if expected and expected[1] and expected[1]:match("^%$ ") then
                cmdline = assert(command(expected[1]), "not a hasme command: " .. expected[1])
                script = expected[1]:match("(%S+%.lua)") or script
                expected = table.move(expected, 2, #expected, 1, {})
              end
              writefile(dir .. "/" .. script, table.concat(b.lines, "\n") .. "\n")
              cmdline = cmdline or (q(BIN) .. (bs.global and " -l hasme " or " ") .. script)
              local o = run(dir, cmdline)
              local status = o:match("%[exit (%d+)%]\n$")
              o = o:gsub("%[exit %d+%]\n$", "")
              if expected then
                if not matches(expected, o) then fail(expected, o) end
              else
                assert.equal("0", status, o)
              end
            end)
          end
        elseif not used[n] and b.lines[1] and b.lines[1]:match("^%$ ") then
          for _, sg in ipairs(segments(b.lines)) do
            local cmd = command(sg.cmd)
            local catfile = sg.cmd:match("^%$ cat (%S+)$")
            if catfile then
              -- "$ cat FILE" shows a file the next commands use: write it.
              it(("line %d: %s is written"):format(b.first, catfile), function()
                writefile(dir .. "/" .. catfile, table.concat(sg.lines, "\n") .. "\n")
              end)
            elseif b.marker == "fragment" or not cmd then
              counts.shell = counts.shell + 1
            else
              counts.commands = counts.commands + 1
              it(("line %d: %s %s"):format(b.first, sg.cmd, #sg.lines > 0
                  and "prints what the docs show" or "succeeds"), function()
                local input, expected, repl = nil, sg.lines, false
                for _, l in ipairs(sg.lines) do
                  if l:match("^hasme> ") then repl = true end
                end
                if repl then
                  input, expected = transcript(sg.lines)
                  cmd = cmd:gsub("^(%S+)", "%1 -i", 1)
                end
                local o = run(dir, cmd, input)
                local status = o:match("%[exit (%d+)%]\n$")
                o = o:gsub("%[exit %d+%]\n$", "")
                if repl then o = o:gsub("\n$", "") .. "\n" end
                if #expected == 0 then
                  assert.equal("0", status, o)
                elseif not matches(expected, o) then
                  fail(expected, o)
                end
              end)
            end
          end
        end
      end
    end)
  end

  it("counts the examples", function()
    print(("# docs: %d Lua blocks (%d with their output compared, %d fragments not run), "
      .. "%d hasme commands run, %d other shell examples not run")
      :format(counts.lua, counts.compared, counts.fragments, counts.commands, counts.shell))
    assert.is_true(counts.lua > 20 and counts.compared > 10)
  end)
end)
