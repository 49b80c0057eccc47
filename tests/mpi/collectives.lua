-- tests/mpi/collectives.lua: hasme.mpi under mpirun -n N (run by tests/mpi/run.sh).
-- Every rank runs every check; the verdicts are gathered and rank 0 prints one TAP
-- line per check, naming N. arg[1] is the hasme executable (for the nested run).
local hasme = require "hasme"
local mpi = hasme.mpi
local rank, size = mpi.rank(), mpi.size()
local hasme_exe = assert(arg[1], "usage: collectives.lua HASME")

local checks = {}   -- {name, passed} in order, the same on every rank
local function check(name, cond, detail)
  checks[#checks + 1] = { name = name, ok = cond and true or false,
                          detail = cond and "" or tostring(detail) }
end

-- rank and size agree with the launcher's view.
local env_size = tonumber(os.getenv("OMPI_COMM_WORLD_SIZE") or os.getenv("PMI_SIZE"))
check("size() is the number of ranks started", size == env_size,
      ("size %d, launcher %s"):format(size, tostring(env_size)))
local ranks = mpi.allgather(tostring(rank))
local distinct = #ranks == size
for r = 1, size do distinct = distinct and ranks[r] == tostring(r - 1) end
check("allgather returns every rank in rank order", distinct, table.concat(ranks, ","))

-- bcast from every root, of strings of different lengths (empty, binary, 2 MB).
local ok_bcast = true
for root = 0, size - 1 do
  local msg = ("r%d\0%s"):format(root, ("x"):rep(root * 1000))
  local got = mpi.bcast(rank == root and msg or nil, root)
  ok_bcast = ok_bcast and got == msg
end
local big = mpi.bcast(rank == 0 and ("0123456789abcdef"):rep(131072) or nil)
check("bcast delivers the root's string from every root", ok_bcast and #big == 2097152
      and big:sub(-16) == "0123456789abcdef")
check("bcast of an empty string", mpi.bcast(rank == size - 1 and "" or nil, size - 1) == "")

-- allgather of strings of different lengths, some empty.
local mine = rank % 2 == 0 and ("ab"):rep(rank + 1) or ""
local all = mpi.allgather(mine)
local ok_gather = #all == size
for r = 0, size - 1 do
  ok_gather = ok_gather and all[r + 1] == (r % 2 == 0 and ("ab"):rep(r + 1) or "")
end
check("allgather of strings of different lengths", ok_gather)

-- Integer reductions are exact.
check("allreduce sums integers", mpi.allreduce(rank + 1) == size * (size + 1) // 2)
check("allreduce keeps integers integers", math.type(mpi.allreduce(rank)) == "integer")
check("allreduce min and max", mpi.allreduce(10 - rank, "min") == 11 - size
      and mpi.allreduce(rank * 2.5, "max") == (size - 1) * 2.5)
local ok_ovf, err_ovf = pcall(mpi.allreduce, math.maxinteger)
check("an integer sum that overflows is an error on every rank",
      (size == 1) == ok_ovf and (size == 1 or err_ovf:find("overflows")), err_ovf)

-- Float sums are correctly rounded: 1e16 + 1 - 1e16 is 1, where adding in rank
-- order gives 0.
local terms = { 1e16, 1.0, -1e16 }
local exact = { 1e16, 1e16, 1.0 }
local s = mpi.allreduce(terms[rank + 1] or 0.0)
check("allreduce sums floats exactly", s == exact[math.min(size, 3)], ("%.17g"):format(s))
local v = mpi.allreduce({ rank + 0.5, -rank, terms[rank + 1] or 0.0 })
local want1 = size * size / 2
check("allreduce of a list gives a vector of sums", getmetatable(v) ~= nil and #v == 3
      and v[1] == want1 and v[2] == -(size * (size - 1) // 2) and v[3] == exact[math.min(size, 3)],
      tostring(v))
local okv, errv = pcall(mpi.allreduce, hasme.vec(rank == 0 and 2 or 3))
check("vectors of different lengths are an error on every rank",
      (size == 1) == okv and (size == 1 or errv:find("different lengths")), errv)

check("the error of vectors of different lengths is shared by every rank",
      size == 1 and not mpi.shared(tostring(errv)) or size > 1 and mpi.shared(errv))
check("another message is not shared", not mpi.shared("allreduce: something else"))

-- A process that a rank starts is not a rank: it runs as one process.
local p = io.popen(("'%s' -e 'io.write(require(\"hasme\").mpi.size())'"):format(hasme_exe))
local nested = p:read("a")
p:close()
check("a hasme started by a rank runs as one process", nested == "1", nested)

local a, b = mpi.alone(function(x, y) return x + y, rank end, 2, 3)
check("alone(fn, ...) returns fn's results", a == 5 and b == rank)
local okc, errc = pcall(mpi.alone, function() return mpi.allreduce(1) end)
check("a collective inside alone raises", not okc and tostring(errc):find("inside hasme.mpi.alone"), errc)
local oke = pcall(mpi.alone, function() error("x") end)
check("alone propagates errors and ends", not oke and mpi.allreduce(1) == size)
check("barrier() returns true", mpi.barrier() == true)
check("barrier(timeout) returns true when every rank arrives", mpi.barrier(60) == true)
check("bytes_sent counts this rank's payload", mpi.bytes_sent() > 0 or size == 1)

-- Gather the verdicts: a check passes when it passed on every rank.
local failed = {}
for i, c in ipairs(checks) do failed[i] = c.ok and 0 or 1 end
failed = mpi.allreduce(failed)
if rank == 0 then
  for i, c in ipairs(checks) do
    print(("%s - mpirun -n %d: %s"):format(failed[i] == 0 and "ok" or "not ok", size, c.name))
    if failed[i] ~= 0 and c.detail ~= "" then print("#   rank 0: " .. c.detail) end
  end
end
