-- Herald contrib: lets mod_cloud_notify's XEP-0357 pushes reach a push account on this same Prosody through mod_pep
-- (Herald's HERALD_PUSH_XMPP_MODE=client, the UWPX push server's original design).
--
-- mod_cloud_notify builds its publish <iq/> in memory. Sent to another server or to a component it is serialized,
-- and its <publish/> and <item/> inherit the pubsub namespace on the wire. Routed to a local account it is handed to
-- mod_pep as built: those two elements carry no xmlns attribute, so mod_pep's item check (item.attr.xmlns must be the
-- pubsub namespace) refuses the item with <bad-request/> "invalid item", and after push_max_errors (16) such errors
-- mod_cloud_notify disables the user's push registration. This module sets the namespace on both elements of pushes
-- to local accounts, before they are sent. Nothing else changes: mod_pep is not patched and other publishes are
-- checked as before.
--
-- Load it on the users' VirtualHost, next to cloud_notify:  modules_enabled = { …, "cloud_notify", "cloud_notify_local_pep" }
-- Tested with Prosody 0.12.3 and prosody-modules' mod_cloud_notify (2023-02). Herald's component mode needs no module.

local jid_host = require "util.jid".host;

local xmlns_pubsub = "http://jabber.org/protocol/pubsub";

local function is_local_account_host(host)
	local h = host and prosody.hosts[host];
	return h ~= nil and h.type == "local";
end

module:hook("cloud_notify/push", function (event)
	local stanza = event.notification_stanza;
	if not is_local_account_host(jid_host(stanza.attr.to)) then return; end
	local pubsub = stanza:get_child("pubsub", xmlns_pubsub);
	if not pubsub then return; end
	for _, publish in ipairs(pubsub.tags) do
		if publish.name == "publish" and publish.attr.xmlns == nil then
			publish.attr.xmlns = xmlns_pubsub;
			for _, item in ipairs(publish.tags) do
				if item.name == "item" and item.attr.xmlns == nil then
					item.attr.xmlns = xmlns_pubsub;
				end
			end
		end
	end
	-- returning nothing: the push goes on (a true value would block it)
end, 10);
