// alertmail's small behaviours. Every page works without them; they show only the fields that
// apply, fill a provider's preset, copy the Redirect URI, expand log rows and confirm removals.
"use strict";

(function () {
  function byId(id) { return document.getElementById(id); }

  // --- Mail Settings: which fields apply --------------------------------------------------------

  function current(name) {
    var field = byId("f-" + name);
    return field ? field.value : "";
  }

  function matches(element, attribute, value) {
    var wanted = element.getAttribute(attribute);
    return wanted === null || wanted.split(" ").indexOf(value) !== -1;
  }

  function refreshVisibility() {
    var auth = current("auth_type");
    var provider = current("oauth_provider");
    var email = current("email_type");
    document.querySelectorAll("[data-show-auth], [data-show-provider], [data-show-email]").forEach(function (el) {
      el.hidden = !(matches(el, "data-show-auth", auth) && matches(el, "data-show-provider", provider) &&
        matches(el, "data-show-email", email));
    });
    var signIn = document.querySelector("button[form=oauth-sign-in-form]");
    if (signIn) {
      signIn.textContent = current("oauth_grant") === "client_credentials"
        ? "Verify OAuth2 Provider" : "Sign In";
    }
  }

  function presets() {
    var data = byId("provider-presets");
    return data ? JSON.parse(data.textContent) : {};
  }

  function setField(name, value) {
    var field = byId("f-" + name);
    if (field) { field.value = String(value); }
  }

  // Microsoft's clouds: a sovereign cloud's login host (US Government, China) is kept when the
  // tenant changes, as the server keeps it.
  var MICROSOFT_LOGIN = "login.microsoftonline.com";
  var MICROSOFT_LOGIN_HOSTS = [MICROSOFT_LOGIN, "login.microsoftonline.us", "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn"];

  function microsoftLoginHost() {
    var match = /^https:\/\/([^\/]+)\//.exec(current("token_endpoint") || "");
    return match && MICROSOFT_LOGIN_HOSTS.indexOf(match[1]) >= 0 ? match[1] : MICROSOFT_LOGIN;
  }

  function microsoftEndpoints(preset) {
    var tenant = current("tenant_id") || "{tenant}";
    var host = microsoftLoginHost();
    ["authorization_endpoint", "token_endpoint", "device_authorization_endpoint"].forEach(function (name) {
      setField(name, preset[name].replace("{tenant}", tenant).replace(MICROSOFT_LOGIN, host));
    });
  }

  // What the previous provider's preset filled is cleared, so none of it lingers under another.
  var previousProvider = null;

  function clearPrevious(all, provider) {
    var before = all[previousProvider] || {};
    Object.keys(before).forEach(function (name) {
      if (!(all[provider] || {}).hasOwnProperty(name)) { setField(name, (all._cleared || {})[name] || ""); }
    });
    if (provider !== "microsoft") { setField("tenant_id", ""); }
  }

  function loginHosts(clouds) {
    return Object.keys(clouds).map(function (graph) { return clouds[graph]; });
  }

  // Graph: the endpoints on its cloud's login host for the tenant, the scope by the grant.
  function graphPreset() {
    if (current("email_type") !== "graph" || current("oauth_provider") !== "microsoft") { return false; }
    var clouds = presets()._graph_clouds || {};
    var graph = (current("graph_endpoint") || "https://graph.microsoft.com").replace(/\/+$/, "");
    var login = (clouds[graph.toLowerCase()] || clouds["https://graph.microsoft.com"]) + "/" +
      (current("tenant_id") || "{tenant}") + "/oauth2/v2.0";
    // An endpoint the admin typed (not on a Microsoft login host) stays, as the server keeps it.
    ["authorization_endpoint", "token_endpoint"].forEach(function (name) {
      var value = current(name);
      if (!value || loginHosts(clouds).some(function (host) { return value.indexOf(host + "/") === 0; })) {
        setField(name, login + (name === "token_endpoint" ? "/token" : "/authorize"));
      }
    });
    setField("scopes", graph + (current("oauth_grant") === "client_credentials" ? "/.default" : "/Mail.Send offline_access"));
    return true;
  }

  function gmailPreset() {
    if (current("email_type") !== "gmail_api" || current("oauth_provider") !== "google") { return; }
    setField("scopes", (presets()._gmail || {}).scopes);
  }

  function fillPreset() {
    var provider = current("oauth_provider");
    var all = presets();
    clearPrevious(all, provider);
    previousProvider = provider;
    var preset = all[provider];
    if (!preset) { return; }
    if (graphPreset()) { return; }
    Object.keys(preset).forEach(function (name) {
      if (!name.endsWith("_endpoint")) { setField(name, preset[name]); }
    });
    if (provider === "microsoft") { microsoftEndpoints(preset); } else {
      ["authorization_endpoint", "token_endpoint", "device_authorization_endpoint"].forEach(function (name) {
        if (preset[name]) { setField(name, preset[name]); }
      });
    }
    gmailPreset();
    document.querySelectorAll("details[data-guide]").forEach(function (guide) {
      guide.open = guide.getAttribute("data-guide") === provider;
    });
  }

  // Microsoft Graph and the Gmail API send with OAuth 2.0 of their own provider: choose both.
  var apiProviders = { graph: "microsoft", gmail_api: "google" };

  function chooseApiType() {
    var provider = apiProviders[current("email_type")];
    if (!provider) { return; }
    setField("auth_type", "oauth2");
    if (current("oauth_provider") !== "custom" && current("oauth_provider") !== provider) {
      setField("oauth_provider", provider);
      fillPreset();
    }
    graphPreset();
    gmailPreset();
    document.querySelectorAll("details[data-guide]").forEach(function (guide) {
      guide.open = guide.getAttribute("data-guide") === current("email_type");
    });
    refreshVisibility();
  }

  function setUpSettingsForm() {
    var emailType = byId("f-email_type");
    if (emailType) { emailType.addEventListener("change", chooseApiType); }
    ["auth_type", "oauth_provider", "email_type", "oauth_grant"].forEach(function (name) {
      var field = byId("f-" + name);
      if (field) { field.addEventListener("change", refreshVisibility); }
    });
    var provider = byId("f-oauth_provider");
    if (provider) {
      previousProvider = provider.value;
      provider.addEventListener("change", fillPreset);
    }
    var tenant = byId("f-tenant_id");
    if (tenant) {
      tenant.addEventListener("input", function () {
        var preset = presets().microsoft;
        if (graphPreset()) { return; }
        if (current("oauth_provider") === "microsoft" && preset) { microsoftEndpoints(preset); }
      });
    }
    ["graph_endpoint", "oauth_grant"].forEach(function (name) {
      var field = byId("f-" + name);
      if (field) { field.addEventListener("change", graphPreset); }
    });
    if (byId("f-auth_type")) { refreshVisibility(); }
    chooseFromLink();
  }

  // "Send with Microsoft Graph instead" (a 5.7.139 failure) opens /mail-settings?email_type=graph:
  // Graph is chosen as if picked by hand, tenant, client and secret stay; nothing is saved until Save.
  function chooseFromLink() {
    var wanted = new URLSearchParams(window.location.search).get("email_type");
    var emailType = byId("f-email_type");
    if (!emailType || !apiProviders[wanted] || emailType.value === wanted) { return; }
    emailType.value = wanted;
    emailType.dispatchEvent(new Event("change"));
  }

  // --- Import Google client JSON: fill the fields from the file Google Cloud offers -------------------

  function googleClient(text) {
    var data = JSON.parse(text);
    var client = data.web || data.installed;
    if (!client || !client.client_id) { throw new Error("it is not a Google OAuth client file (no \"web\" client_id)"); }
    return client;
  }

  function showImport(ok, text) {
    var result = byId("google-client-result");
    result.className = "notice " + (ok ? "notice-ok" : "notice-error");
    result.textContent = text;
  }

  function fillGoogleClient(text) {
    var client;
    try { client = googleClient(text); } catch (e) { showImport(false, "Cannot read the JSON: " + e.message); return; }
    setField("client_id", client.client_id);
    setField("client_secret", client.client_secret || "");
    if (client.auth_uri) { setField("authorization_endpoint", client.auth_uri); }
    if (client.token_uri) { setField("token_endpoint", client.token_uri); }
    var here = current("redirect_uri") || byId("f-redirect_uri").getAttribute("placeholder");
    var listed = client.redirect_uris || [];
    if (listed.indexOf(here) === -1) {
      showImport(false, "Filled, but the client's Authorised redirect URIs (" + (listed.join(", ") || "none") +
        ") do not include this server's, " + here + ": add it in Google Cloud, or Sign In will fail.");
    } else {
      showImport(true, "Filled Client ID, Client Secret and the endpoints; the redirect URI " + here + " is registered. Save to keep them.");
    }
  }

  function setUpGoogleImport() {
    var button = byId("google-client-fill");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var file = byId("google-client-file").files[0];
      if (!file) { fillGoogleClient(byId("google-client-text").value); return; }
      file.text().then(fillGoogleClient);
    });
  }

  // --- Copy the Redirect URI ----------------------------------------------------------------------

  function copyText(text, status) {
    function done(message) { if (status) { status.textContent = message; } }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done("Copied: " + text); },
        function () { done("Could not copy: select the address and copy it."); });
      return;
    }
    var scratch = document.createElement("textarea");
    scratch.value = text;
    scratch.setAttribute("readonly", "");
    scratch.className = "visually-hidden";
    document.body.appendChild(scratch);
    scratch.select();
    try { document.execCommand("copy"); done("Copied: " + text); } catch (e) { done("Could not copy."); }
    document.body.removeChild(scratch);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-from]");
    if (!button) { return; }
    var source = byId(button.getAttribute("data-copy-from"));
    var text = (source && source.value) || button.getAttribute("data-copy-fallback") || "";
    copyText(text, button.closest(".field").querySelector("[data-copy-status]"));
    var label = button.textContent;
    button.textContent = "Copied";
    window.setTimeout(function () { button.textContent = label; }, 1500);
  });

  // --- Mail Server Logs: a row opens its details ----------------------------------------------------

  function toggle(button) {
    var details = byId(button.getAttribute("aria-controls"));
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    button.closest("tr").classList.toggle("is-open", open);
    if (details) { details.hidden = !open; }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".row-toggle");
    if (button) { toggle(button); return; }
    var row = event.target.closest("tr.entry");
    if (row && !event.target.closest("a, button, input, select")) {
      toggle(row.querySelector(".row-toggle"));
    }
  });

  // --- Confirm before removing ----------------------------------------------------------------------

  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", setUpSettingsForm);
  document.addEventListener("DOMContentLoaded", setUpGoogleImport);
})();
