// Passkeys (WebAuthn): adding one under Nutzerdaten → Passkeys, "Mit Passkey
// anmelden" on the login page and "Mit Passkey bestätigen" as the second
// factor (the same ceremony; the server's options then list allowCredentials). The server sends the options as
// JSON with binary values in base64url; the browser API wants ArrayBuffers,
// and the answer goes back as JSON in base64url again. Without this script
// (or without WebAuthn in the browser) both stay hidden.
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return { type: c.type, id: toBytes(c.id), transports: c.transports };
    });
  }

  function creationOptions(o) {
    var options = Object.assign({}, o, {
      challenge: toBytes(o.challenge),
      user: Object.assign({}, o.user, { id: toBytes(o.user.id) }),
      excludeCredentials: descriptors(o.excludeCredentials)
    });
    return { publicKey: options };
  }

  function requestOptions(o) {
    var options = Object.assign({}, o, {
      challenge: toBytes(o.challenge),
      allowCredentials: descriptors(o.allowCredentials)
    });
    return { publicKey: options };
  }

  function credentialJSON(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) response.userHandle = toText(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: response
    };
  }

  // POST JSON with the CSRF token; resolve to the JSON answer, or reject with
  // the server's error object ({message, fields}) when it refused.
  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      // A page instead of JSON (a redirect followed) counts as a failure.
      var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok && json) return data;
        var error = (data && data.error) || {};
        throw { message: response.status === 422 ? error.message : null, fields: error.fields };
      });
    });
  }

  function showError(box, message) {
    box.textContent = message || "";
    box.hidden = !message;
  }

  function fieldErrors(form, fields) {
    form.querySelectorAll(".field").forEach(function (field) {
      var input = field.querySelector("input");
      var old = field.querySelector("p.error");
      if (old) old.remove();
      field.classList.remove("has-error");
      input.removeAttribute("aria-invalid");
      var message = fields && fields[input.name];
      if (!message) return;
      var p = document.createElement("p");
      p.className = "error";
      p.id = input.id + "-error";
      p.setAttribute("role", "alert");
      p.textContent = message;
      field.appendChild(p);
      field.classList.add("has-error");
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", p.id);
    });
  }

  var supported = window.PublicKeyCredential && navigator.credentials;

  // Notes for browsers without passkeys; this one has them.
  function hideUnsupportedNotes() {
    document.querySelectorAll("[data-passkey-unsupported]").forEach(function (el) { el.hidden = true; });
  }

  var add = document.getElementById("passkey-add");
  if (add && supported) {
    add.hidden = false;
    hideUnsupportedNotes();
    var addError = add.querySelector("[data-passkey-error]");
    var csrf = add.querySelector("input[name=csrf_token]").value;
    add.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = add.querySelector("[type=submit]");
      button.disabled = true;
      showError(addError, "");
      fieldErrors(add, null);
      post(add.dataset.optionsUrl, csrf, {
        name: add.elements.namedItem("name").value,
        current_password: add.elements.namedItem("current_password").value
      }).then(function (options) {
        return navigator.credentials.create(creationOptions(options));
      }).then(function (credential) {
        return post(add.dataset.addUrl, csrf, { credential: credentialJSON(credential) });
      }).then(function (done) {
        window.location.assign(done.redirect);
      }).catch(function (error) {
        button.disabled = false;
        if (error && error.fields) fieldErrors(add, error.fields);
        else showError(addError, (error && error.message) || add.dataset.failed);
      });
    });
  }

  var login = document.getElementById("passkey-login");
  if (login && supported) {
    login.hidden = false;
    hideUnsupportedNotes();
    var loginError = login.querySelector("[data-passkey-error]");
    var loginButton = login.querySelector("button");
    loginButton.addEventListener("click", function () {
      loginButton.disabled = true;
      showError(loginError, "");
      var csrf = login.dataset.csrf;
      post(login.dataset.optionsUrl, csrf).then(function (options) {
        return navigator.credentials.get(requestOptions(options));
      }).then(function (credential) {
        return post(login.dataset.loginUrl, csrf, {
          credential: credentialJSON(credential),
          next: login.dataset.next
        });
      }).then(function (done) {
        window.location.assign(done.redirect);
      }).catch(function (error) {
        loginButton.disabled = false;
        showError(loginError, (error && error.message) || login.dataset.failed);
      });
    });
  }
})();
