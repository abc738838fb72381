-- prosody_prep.lua - prepares strings with Prosody's own util.encodings,
-- for tests/check_jidprep.c: each input line is a string in hex; each
-- output line holds nodeprep, nameprep and resourceprep of it, each
-- "=HEX" or "-" when Prosody refuses it.  Run with the Lua that runs
-- Prosody (lua5.4 on Debian 12); PROSODY_LIBDIR overrides where its
-- modules are.
local libdir = os.getenv("PROSODY_LIBDIR") or "/usr/lib/prosody"
package.cpath = libdir .. "/?.so;" .. package.cpath
local sp = require "util.encodings".stringprep

local function hex(s)
	return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function unhex(h)
	return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

for line in io.lines() do
	local s = unhex(line)
	local out = {}
	for _, prep in ipairs({ sp.nodeprep, sp.nameprep, sp.resourceprep }) do
		local r = prep(s)
		out[#out + 1] = r and ("=" .. hex(r)) or "-"
	end
	print(table.concat(out, " "))
end
io.stdout:flush()
