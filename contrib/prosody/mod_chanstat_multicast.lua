-- mod_chanstat_multicast: XEP-0033 (Extended Stanza Addressing) fan-out
-- for trusted components such as chanstatd, on one VirtualHost
-- (Prosody 0.12).
--
-- A trusted component sends ONE presence or message to the host itself
-- (to='example.org') carrying <addresses xmlns='http://jabber.org/protocol/address'/>;
-- this module delivers one copy per listed local user, exactly as if the
-- component had sent each copy directly: same 'from', same 'id', 'to' set
-- to the address, routed through core_post_stanza with the component's
-- session as origin (blocking, offline storage and the presence rules for
-- bare JIDs all apply).  The <addresses/> element is dropped when every
-- address was bcc.
--
-- Options (read at use time, so a config reload changes them):
--   chanstat_multicast = { "status.example.org" }  -- trusted component domains
--   chanstat_multicast_limit = 1000                -- deliverable addresses per stanza
--
-- Refusals come back as an ordinary stanza error from the host to the
-- sender, with the original id, and nothing is delivered:
--   forbidden (cancel)        sender is not a trusted component session,
--                             or its 'from' is not in the component's domain
--   bad-request (modify)      no deliverable address, or a stanza type that is
--                             not multicast (presence other than available and
--                             unavailable, groupchat message)
--   not-acceptable (modify)   an address that is malformed, not a user JID of
--                             this host, or uses uri/node; more deliverable
--                             addresses than the limit ("Too many receiver fields")
-- See doc/attach-prosody.md, "Multicast fan-out (XEP-0033)".

local st = require "util.stanza";
local jid = require "util.jid";

local jid_split, jid_host, jid_join = jid.split, jid.host, jid.join;
local jid_prepped_split = jid.prepped_split;
local tostring, math_floor = tostring, math.floor;

local core_post_stanza = prosody.core_post_stanza;
local full_sessions, bare_sessions = prosody.full_sessions, prosody.bare_sessions;

local xmlns_address = "http://jabber.org/protocol/address";
local default_limit = 1000;
local host = module.host;

if module:get_host_type() ~= "local" then
	module:log("error", "mod_%s belongs on a VirtualHost, not on the component %s", module.name, host);
	return;
end

-- XEP-0033 section 4.6 (address types): these are delivered to; every
-- other type (replyto, replyroom, noreply, ofrom, ...) is only carried.
local deliverable = { to = true, cc = true, bcc = true };

-- Stanza types that may be multicast.  Presence subscriptions and probes
-- are per contact by nature (and would be stored by the roster code);
-- groupchat belongs to MUC.
local presence_types = { unavailable = true }; -- and none (available)
local message_types = { normal = true, chat = true, headline = true };

-- current_limit(): chanstat_multicast_limit as a positive integer, read
-- from the config now (a bad value falls back to the default, logged).
local function current_limit()
	local n = module:get_option_number("chanstat_multicast_limit", default_limit);
	if not n or n < 1 or n ~= math_floor(n) or n >= 2^31 then
		module:log("warn", "chanstat_multicast_limit must be a positive integer, using %d", default_limit);
		return default_limit;
	end
	return math_floor(n);
end

-- Disco: the feature, and an XEP-0128 form with the limit for each stanza
-- kind (the shape ejabberd's multicast service uses).  mod_disco caches
-- its answer and drops the cache whenever an item is added or removed, so
-- a new limit is published by swapping the form item.
module:add_feature(xmlns_address);

local advertised_form, advertised_limit;

local function limit_form(limit)
	local value = tostring(limit);
	return st.stanza("x", { xmlns = "jabber:x:data", type = "result" })
		:tag("field", { var = "FORM_TYPE", type = "hidden" })
			:text_tag("value", xmlns_address):up()
		:tag("field", { var = "presence" })
			:text_tag("value", value):up()
		:tag("field", { var = "message" })
			:text_tag("value", value):up();
end

-- publish_limit(): makes disco#info show the configured limit; returns it.
local function publish_limit()
	local limit = current_limit();
	if limit ~= advertised_limit then
		local form = limit_form(limit);
		if advertised_form then
			module:remove_item("extension", advertised_form);
		end
		module:add_extension(form);
		advertised_form, advertised_limit = form, limit;
		module:log("debug", "Advertising a multicast limit of %d", limit);
	end
	return limit;
end

publish_limit();
module:hook_global("config-reloaded", function () publish_limit(); end);

local function reply_error(origin, stanza, etype, condition, text)
	local reply = st.error_reply(stanza, etype, condition, text);
	if origin.send then
		origin.send(reply);
	else
		module:send(reply);
	end
	return true;
end

-- trusted(origin, from): only a component session whose domain is listed
-- in chanstat_multicast, speaking for its own domain.
local function trusted(origin, from)
	if origin.type ~= "component" or not origin.host then return false; end
	if jid_host(from) ~= origin.host then return false; end
	local list = module:get_option_set("chanstat_multicast", {});
	return list:contains(origin.host);
end

-- check_address(a): for a deliverable address, its prepped JID (a user of
-- this host, bare or full); otherwise nil and why.  JIDs of users online
-- right now are known to be prepped already (the router makes the same
-- shortcut), so only the others pay for stringprep.
local function check_address(a)
	local attr = a.attr;
	local j = attr.jid;
	if attr.uri or attr.node then
		return nil, "Only addresses with a 'jid' are accepted: " .. tostring(j or attr.uri);
	end
	if not j then
		return nil, "Address without a 'jid'";
	end
	local node, h;
	if full_sessions[j] or bare_sessions[j] then
		node, h = jid_split(j);
	else
		local resource;
		node, h, resource = jid_prepped_split(j);
		if not h then
			return nil, "Malformed address: " .. j;
		end
		if h == host and node then
			j = jid_join(node, h, resource);
		end
	end
	if h ~= host or not node then
		return nil, "Address is not a user of " .. host .. ": " .. j;
	end
	return j;
end

-- parse_addresses(list, limit): validates every address before anything
-- is sent.  Returns the distinct JIDs to deliver to (in list order) and
-- the <addresses/> element to carry (nil when nothing but bcc addresses
-- was listed); or nil, condition, text.
local function parse_addresses(list, limit)
	local targets, seen, count = {}, {}, 0;
	local carry = false; -- to/cc or carried types present: keep the element
	for a in list:childtags("address", xmlns_address) do
		local t = a.attr.type;
		if not t then
			return nil, "not-acceptable", "Address without a 'type'";
		end
		if deliverable[t] and a.attr.delivered ~= "true" then
			count = count + 1;
			if count > limit then
				return nil, "not-acceptable", "Too many receiver fields";
			end
			local j, why = check_address(a);
			if not j then
				return nil, "not-acceptable", why;
			end
			if not seen[j] then
				seen[j] = true;
				targets[#targets + 1] = j;
			end
			if t ~= "bcc" then carry = true; end
		elseif t ~= "bcc" then
			carry = true;
		end
	end
	if count == 0 then
		return nil, "bad-request", "No address to deliver to";
	end
	if not carry then
		return targets, nil;
	end
	-- XEP-0033 4.6.3 and 5 (Multicast Usage): bcc addresses never reach
	-- recipients; to and cc are marked delivered so that nobody delivers
	-- them again.
	local kept = st.stanza("addresses", { xmlns = xmlns_address });
	for a in list:childtags("address", xmlns_address) do
		local t = a.attr.type;
		if t ~= "bcc" then
			local copy = st.clone(a);
			if deliverable[t] then copy.attr.delivered = "true"; end
			kept:add_direct_child(copy);
		end
	end
	return targets, kept;
end

local function handle(event)
	local origin, stanza = event.origin, event.stanza;
	local list = stanza:get_child("addresses", xmlns_address);
	if not list then return; end -- not ours: untouched
	local kind, stype = stanza.name, stanza.attr.type;
	if stype == "error" then return; end -- never answer an error

	local from = stanza.attr.from;
	if not from or not trusted(origin, from) then
		module:log("info", "Refused multicast %s id=%s from %s (%s session %s): not a trusted component",
			kind, tostring(stanza.attr.id), tostring(from), tostring(origin.type), tostring(origin.host));
		return reply_error(origin, stanza, "cancel", "forbidden",
			"Multicast is reserved to trusted components");
	end

	if kind == "presence" then
		if stype ~= nil and not presence_types[stype] then
			module:log("info", "Refused multicast presence id=%s of type %s from %s",
				tostring(stanza.attr.id), tostring(stype), from);
			return reply_error(origin, stanza, "modify", "bad-request",
				"Only available and unavailable presence can be multicast");
		end
	elseif not message_types[stype or "normal"] then
		module:log("info", "Refused multicast message id=%s of type %s from %s",
			tostring(stanza.attr.id), stype, from);
		return reply_error(origin, stanza, "modify", "bad-request",
			"Messages of type " .. stype .. " cannot be multicast");
	end

	local limit = publish_limit();
	local targets, condition, text = parse_addresses(list, limit);
	if not targets then
		module:log("info", "Refused multicast %s id=%s from %s (%d addresses listed, limit %d): %s",
			kind, tostring(stanza.attr.id), from, #list.tags, limit, text);
		return reply_error(origin, stanza, "modify", condition, text);
	end
	local kept = condition;

	stanza:remove_children("addresses", xmlns_address);
	if kept then stanza:add_direct_child(kept); end

	local n = #targets;
	module:log("debug", "Multicast %s id=%s from %s to %d recipients", kind, tostring(stanza.attr.id), from, n);
	if kind == "presence" then
		-- Like mod_presence's own broadcast: one stanza object, 'to' set per
		-- recipient.  The c2s output path serialises at once or clones what
		-- it keeps (smacks, CSI), so reusing the object is safe.
		for i = 1, n do
			stanza.attr.to = targets[i];
			core_post_stanza(origin, stanza);
		end
	else
		-- Each recipient gets its own copy (the last one the original):
		-- Prosody's modules copy a message before stamping it (mod_mam's
		-- stanza-id, mod_offline's delay), but a third-party handler of
		-- message/bare may stamp it in place, and one user's stamp must
		-- not reach the next.  Messages are not the bulk of a fan-out.
		for i = 1, n do
			local copy = i < n and st.clone(stanza) or stanza;
			copy.attr.to = targets[i];
			core_post_stanza(origin, copy);
		end
	end
	return true;
end

-- Above mod_presence's and any other handler of stanzas to the host.
module:hook("presence/host", handle, 10);
module:hook("message/host", handle, 10);
