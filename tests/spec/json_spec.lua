-- json_spec.lua: hasme.json, the JSON of the runner's records and result files:
-- round trips with sorted keys and stable numbers, pretty printing, NaN and
-- infinities, hasme vectors and matrices, and the errors that name where.
local hasme = require "hasme"
local json = require "hasme.json"

describe("hasme.json", function()
  it("round-trips values, with sorted keys and stable numbers", function()
    local v = { b = { 1, 2.5, -0.0, 1e300, 0.1, 1 / 3, 2 ^ 53, math.mininteger },
                a = "q\"\\/\n\t\1é😀", c = { t = true, f = false, e = json.object(), l = json.array() } }
    local s = json.encode(v)
    assert.equal('{"a":"q\\"\\\\/\\n\\t\\u0001é😀","b":[1,2.5,-0.0,1e+300,0.1,0.3333333333333333,'
      .. '9007199254740992.0,-9223372036854775808],"c":{"e":{},"f":false,"l":[],"t":true}}', s)
    local back = json.decode(s)
    assert.same(v.b, back.b)
    assert.equal(v.a, back.a)
    assert.equal("float", math.type(back.b[2]))
    assert.equal("integer", math.type(back.b[1]))
    assert.equal("float", math.type(back.b[7]))
    assert.equal(s, json.encode(back))
    for _, x in ipairs { 0.1, 2.385, 1e-310, 5e-324, 1.7976931348623157e308, -123.456e-7 } do
      assert.equal(x, json.decode(json.encode(x)))
    end
  end)

  it("pretty-prints with indent, arrays of scalars on one line", function()
    assert.equal('{\n  "a": [1, 2],\n  "b": {\n    "c": null\n  },\n  "d": [\n    [true]\n  ]\n}',
      json.encode({ a = { 1, 2 }, b = { c = json.null }, d = { { true } } }, { indent = 2 }))
  end)

  it("encodes NaN and infinities as null, and vectors and matrices as arrays", function()
    assert.equal("[null,null,null]", json.encode { 0 / 0, math.huge, -math.huge })
    assert.equal("[1.0,2.5]", json.encode(hasme.vec { 1, 2.5 }))
    assert.equal("[[1.0,0.0],[0.0,2.0]]", json.encode(hasme.mat { { 1, 0 }, { 0, 2 } }))
  end)

  it("decodes null as json.null and keeps array lengths", function()
    local t = json.decode('[1, null, 3]')
    assert.equal(3, #t)
    assert.equal(json.null, t[2])
    assert.equal("\240\159\152\128", json.decode('"\\ud83d\\ude00"'))
  end)

  it("rejects what JSON cannot hold, naming where", function()
    local cyc = {}
    cyc.self = cyc
    for _, c in ipairs {
      { { f = print }, "json.encode: cannot encode a function at $.f" },
      { { 1, nil, 3 }, "json.encode: cannot encode a table with numeric keys that are not 1..2 at $" },
      { { [true] = 1 }, "json.encode: cannot encode a table key of type boolean at $" },
      { { x = { 1, a = 2 } }, "json.encode: cannot encode an object with a key of type number at $.x" },
      { cyc, "json.encode: cannot encode a cycle at $.self" },
    } do
      local ok, err = pcall(json.encode, c[1])
      assert.is_false(ok)
      assert.equal(c[2], err)
    end
  end)

  it("reports malformed text with its line and column", function()
    for text, msg in pairs {
      ["[1,"] = "unexpected end of input at line 1, column 4 (byte 4)",
      ['{"a" 1}'] = "expected ':' at line 1, column 6 (byte 6)",
      ["[1]\n x"] = "trailing characters at line 2, column 2 (byte 6)",
      ["01"] = "bad number (leading zero) at line 1, column 1 (byte 1)",
      ["1."] = "bad number (no digit after '.') at line 1, column 2 (byte 2)",
      ['"\\x"'] = "bad escape '\\x' at line 1, column 2 (byte 2)",
      ['"a\nb"'] = "control character in string at line 1, column 3 (byte 3)",
      ["nul"] = "unexpected character 'n' at line 1, column 1 (byte 1)",
    } do
      local ok, err = pcall(json.decode, text)
      assert.is_false(ok)
      assert.equal("json.decode: " .. msg, err)
    end
  end)
end)
