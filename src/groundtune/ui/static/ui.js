// groundtune web UI: the helpers every page shares. Plain browser JavaScript, no build step.
"use strict";

const GT = {
  // A /v1 call from the UI: JSON (or FormData) in, JSON out; a non-2xx answer throws an Error whose
  // message is the API's own (message, hint) and whose `details` are its per-item reasons.
  async api(method, url, body, headers) {
    const opts = {method, headers: {"X-Groundtune-UI": "1", ...(headers || {})}, credentials: "same-origin"};
    if (body instanceof FormData) {
      opts.body = body;
    } else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const response = await fetch(url, opts);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!response.ok) {
      const error = (data && data.error) || {message: `${response.status} ${response.statusText}`};
      const err = new Error(error.message || "request failed");
      err.status = response.status;
      err.details = error.details || null;
      err.param = error.param || null;
      throw err;
    }
    return data;
  },

  showError(target, err) {
    const box = typeof target === "string" ? document.getElementById(target) : target;
    if (!box) return;
    box.textContent = err ? (err.message || String(err)) : "";
    if (err) box.setAttribute("role", "alert");
  },

  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  },

  // The fields of `form` marked with data-path (dotted: "lora.r") as a nested object; empty optional
  // fields are left out so the config's default applies.
  formValues(form, into) {
    const out = into || {};
    for (const input of form.querySelectorAll("[data-path]")) {
      const type = input.dataset.type || "text";
      let value;
      if (type === "bool") value = input.checked;
      else if (input.value.trim() === "") continue;
      else if (type === "integer") value = parseInt(input.value, 10);
      else if (type === "number") value = parseFloat(input.value);
      else value = input.value.trim();
      const parts = input.dataset.path.split(".");
      let node = out;
      for (const part of parts.slice(0, -1)) node = node[part] = node[part] || {};
      node[parts[parts.length - 1]] = value;
    }
    return out;
  },

  fmt(value, digits) {
    if (value === null || value === undefined) return "–";
    if (typeof value !== "number") return String(value);
    return Number.isInteger(value) ? value.toLocaleString("en") : value.toFixed(digits === undefined ? 3 : digits);
  },

  duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return h ? `${h}h ${m}m` : m ? `${m}m ${r}s` : `${r}s`;
  },

  // A form whose submit posts JSON built by `build(form)` to `url(form)` and then goes to `next(result)`.
  onSubmit(form, {build, url, next, method}) {
    const errors = form.querySelector(".error");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      GT.showError(errors, null);
      if (button) button.disabled = true;
      try {
        const result = await GT.api(method || "POST", typeof url === "function" ? url(form) : url, build(form));
        const target = next(result);
        if (target) window.location.assign(target);
      } catch (err) {
        GT.showError(errors, err);
      } finally {
        if (button) button.disabled = false;
      }
    });
  },
};

// Buttons with data-post="/v1/..." post and then reload (or go to data-next); data-confirm asks first.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-post]");
  if (!button) return;
  event.preventDefault();
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
  const errors = document.getElementById(button.dataset.errors || "page-error");
  button.disabled = true;
  try {
    await GT.api(button.dataset.method || "POST", button.dataset.post);
    if (button.dataset.next) window.location.assign(button.dataset.next);
    else window.location.reload();
  } catch (err) {
    GT.showError(errors, err);
    button.disabled = false;
  }
});
