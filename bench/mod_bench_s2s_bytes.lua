-- mod_bench_s2s_bytes: logs the size of every write to an s2s stream, for
-- bench/fed_bench.sh.  mod_s2s's session.sends2s() serialises each stanza
-- once and passes the string through the "bytes/out" filters once before
-- writing it, so this logs exactly one line per stanza sent:
--   s2s-bytes out <N>: <name
-- right after mod_s2s's own "Sending[s2sout]: <name ...>" line.
-- Prosody 0.12; needs debug logging.
module:set_global();

local filters = require "util.filters";

local function add(session)
	if not (session.type or ""):match("^s2s") then return; end
	filters.add_filter(session, "bytes/out", function (data)
		session.log("debug", "s2s-bytes out %d: %s", #data, data:match("^%s*(<[^%s/>]*)") or "?");
		return data;
	end, -1000);
end

function module.load()
	filters.add_filter_hook(add);
end

function module.unload()
	filters.remove_filter_hook(add);
end
