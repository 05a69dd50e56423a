// Drag-and-drop upload of many files to a knowledge base, with a live status and reason per file:
// checked at upload (accepted or rejected, and why), then what its ingestion job did with it.
"use strict";

(function () {
  const drop = document.getElementById("drop");
  if (!drop) return;
  const kb = drop.dataset.kb;
  const input = document.getElementById("files");
  const status = document.getElementById("upload-status");
  const terminal = new Set(["succeeded", "failed", "cancelled"]);

  function table(files) {
    const rows = files.map((f) => GT.el("tr", {"data-file": f.filename},
      GT.el("td", {}, f.filename),
      GT.el("td", {class: "num"}, GT.fmt(f.bytes)),
      GT.el("td", {}, GT.el("span", {class: `badge ${f.status}`}, f.status)),
      GT.el("td", {class: "small"}, f.reason || (f.documents && f.documents.length ? `${f.documents.length} document(s)` : ""))));
    return GT.el("div", {class: "scroll"}, GT.el("table", {id: "upload-files"},
      GT.el("thead", {}, GT.el("tr", {},
        GT.el("th", {scope: "col"}, "File"), GT.el("th", {scope: "col", class: "num"}, "Bytes"),
        GT.el("th", {scope: "col"}, "Status"), GT.el("th", {scope: "col"}, "Reason"))),
      GT.el("tbody", {}, ...rows)));
  }

  function show(files, job) {
    const parts = [table(files)];
    if (job) {
      parts.unshift(GT.el("p", {},
        "Ingestion job ", GT.el("a", {href: `/jobs/${job.id}`}, job.id), " ",
        GT.el("span", {class: `badge ${job.state}`, id: "upload-job-state"}, job.state)));
      if (job.state === "succeeded") {
        parts.push(GT.el("p", {}, GT.el("a", {href: window.location.pathname, id: "show-documents"}, "Show the documents now in the knowledge base")));
      }
    }
    status.replaceChildren(...parts);
  }

  async function follow(jobId) {
    for (;;) {
      const upload = await GT.api("GET", `/v1/knowledge_bases/${encodeURIComponent(kb)}/uploads/${jobId}`);
      show(upload.files, upload.job);
      if (terminal.has(upload.job.state)) {
        if (upload.job.state === "failed" && upload.job.error) GT.showError("upload-error", upload.job.error);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
  }

  async function send(fileList) {
    const files = Array.from(fileList);
    if (!files.length) return;
    GT.showError("upload-error", null);
    show(files.map((f) => ({filename: f.name, bytes: f.size, status: "uploading"})));
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    try {
      const upload = await GT.api("POST", `/v1/knowledge_bases/${encodeURIComponent(kb)}/documents`, form);
      show(upload.files, upload.job);
      await follow(upload.id);
    } catch (err) {
      GT.showError("upload-error", err);
      if (err.details) show(err.details);
      else show(files.map((f) => ({filename: f.name, bytes: f.size, status: "rejected", reason: err.message})));
    }
  }

  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); send(e.dataTransfer.files); });
  input.addEventListener("change", () => { send(input.files); input.value = ""; });
  // the label opens the file picker; Enter/Space on it too, for keyboard users
  const label = drop.querySelector("label[for=files]");
  label.tabIndex = 0;
  label.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
})();
