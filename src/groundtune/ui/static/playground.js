// The playground: create and start deployments, ask one of their models (streamed), and turn the
// answer's [n] markers into links that open the cited chunk in its document, the quote highlighted.
"use strict";

(function () {
  const deploy = document.getElementById("deploy");
  if (deploy) {
    GT.onSubmit(deploy, {
      url: "/v1/deployments",
      build: (form) => {
        const body = GT.formValues(form);
        body.config = body.config || {};
        const adapter = document.getElementById("dep-adapter").value;
        if (adapter) body.config.adapters = {[adapter]: adapter};
        body.start = true;
        return body;
      },
      next: (d) => `/playground?deployment=${encodeURIComponent(d.id)}`,
    });
  }

  const ask = document.getElementById("ask");
  if (!ask) return;
  const answer = document.getElementById("answer");
  const reply = document.getElementById("reply");

  function sourceLink(kb, doc, citation) {
    if (!kb || !doc || !doc.document_id || !doc.chunk_id) return `#retrieved-${doc ? doc.index : ""}`;
    const params = new URLSearchParams({chunk: doc.chunk_id});
    if (citation && citation.quote) params.set("quote", citation.quote);
    const anchor = citation && citation.quote && citation.quote_verified ? "#quote" : "#chunk";
    return `/knowledge_bases/${encodeURIComponent(kb)}/documents/${encodeURIComponent(doc.document_id)}?${params}${anchor}`;
  }

  function render(content, context, kb) {
    const retrieved = context.retrieved || [];
    const cited = new Map((context.citations || []).map((c) => [c.index, c]));
    const parts = [];
    let last = 0;
    for (const match of content.matchAll(/\[(\d+)\]/g)) {
      const n = Number(match[1]);
      const doc = retrieved[n - 1];
      parts.push(content.slice(last, match.index));
      if (doc) {
        parts.push(GT.el("a", {class: "cite", href: sourceLink(kb, doc, cited.get(n)),
          "aria-label": `source ${n}: ${doc.title}`}, `[${n}]`));
      } else {
        parts.push(match[0]);
      }
      last = match.index + match[0].length;
    }
    parts.push(content.slice(last));
    answer.replaceChildren(...parts);

    document.getElementById("refusal").hidden = !context.refusal;
    const citations = document.getElementById("citations");
    const items = (context.citations || []).map((c) => GT.el("li", {},
      GT.el("a", {href: sourceLink(kb, retrieved[c.index - 1], c), class: "citation"}, `[${c.index}] ${c.title}`),
      c.quote ? GT.el("span", {class: "small"}, ` — “${c.quote}”${c.quote_verified ? "" : " (not verbatim)"}`) : null));
    citations.replaceChildren(items.length ? GT.el("h3", {}, "Citations") : "", items.length ? GT.el("ul", {}, ...items) : "");
    document.getElementById("warnings").textContent = (context.warnings || []).join(" · ");
    const list = document.getElementById("retrieved");
    list.replaceChildren(...retrieved.map((d) => GT.el("li", {id: `retrieved-${d.index}`, class: "card"},
      GT.el("a", {href: sourceLink(kb, d, null)}, `[${d.index}] ${d.title}`),
      GT.el("span", {class: "small muted"}, ` score ${GT.fmt(d.score, 4)}`),
      cited.has(d.index) ? GT.el("span", {class: "badge better"}, " cited") : null,
      GT.el("details", {}, GT.el("summary", {}, "text"), GT.el("div", {class: "small"}, d.text || "")))));
  }

  async function streamed(body) {
    const response = await fetch("/v1/chat/completions", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-Groundtune-UI": "1"},
      body: JSON.stringify({...body, stream: true}),
    });
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      throw new Error((data && data.error && data.error.message) || `${response.status}`);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", content = "", context = null;
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, cut).trim();
        buffer = buffer.slice(cut + 2);
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const delta = chunk.choices[0].delta;
        if (delta.content) { content += delta.content; answer.textContent = content; }
        if (delta.context) context = delta.context;
      }
    }
    return {content, context: context || {}};
  }

  async function whole(body) {
    const data = await GT.api("POST", "/v1/chat/completions", body);
    const message = data.choices[0].message;
    return {content: message.content || "", context: message.context || {}};
  }

  ask.addEventListener("submit", async (event) => {
    event.preventDefault();
    const select = document.getElementById("model");
    const kb = select.selectedOptions[0].dataset.kb;
    const body = {
      model: select.value,
      messages: [{role: "user", content: document.getElementById("question").value}],
      max_tokens: parseInt(document.getElementById("max-tokens").value || "160", 10),
    };
    const button = ask.querySelector("button[type=submit]");
    button.disabled = true;
    GT.showError("ask-error", null);
    reply.hidden = false;
    answer.textContent = "";
    for (const id of ["citations", "retrieved"]) document.getElementById(id).replaceChildren();
    document.getElementById("refusal").hidden = true;
    reply.setAttribute("aria-busy", "true");
    try {
      const result = document.getElementById("stream").checked ? await streamed(body) : await whole(body);
      render(result.content, result.context, kb);
      reply.dataset.done = "true";
    } catch (err) {
      GT.showError("ask-error", err);
    } finally {
      reply.removeAttribute("aria-busy");
      button.disabled = false;
    }
  });
})();
