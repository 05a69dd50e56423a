// The build, fine-tuning and evaluation forms: each posts its config as JSON to /v1 and opens the job.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const build = document.getElementById("build");
  if (build) {
    const upload = document.getElementById("qa-upload");
    upload.addEventListener("change", async () => {
      GT.showError("qa-error", null);
      for (const file of Array.from(upload.files)) {
        const form = new FormData();
        form.append("file", file, file.name);
        try {
          const f = await GT.api("POST", "/v1/files", form);
          const row = GT.el("tr", {"data-file": f.id},
            GT.el("td", {}, GT.el("input", {type: "checkbox", class: "use", id: `use-${f.id}`, checked: true, "aria-label": `use ${f.filename}`})),
            GT.el("td", {}, GT.el("label", {for: `use-${f.id}`}, f.filename), " ", GT.el("span", {class: "muted small"}, f.id)),
            GT.el("td", {class: "num"}, f.records),
            GT.el("td", {}, GT.el("select", {class: "assign", "aria-label": `split of ${f.filename}`},
              ...["auto", "train", "validation", "test"].map((s) => GT.el("option", {}, s)))),
            GT.el("td", {}, GT.el("input", {class: "limit", type: "number", min: 1, placeholder: "all", "aria-label": `limit of ${f.filename}`})));
          document.querySelector("#qa-files tbody").appendChild(row);
        } catch (err) {
          GT.showError("qa-error", {message: `${file.name}: ${err.message}`});
        }
      }
      upload.value = "";
    });
    GT.onSubmit(build, {
      url: "/v1/datasets",
      build: (form) => {
        const config = GT.formValues(form);
        config.sources = Array.from(form.querySelectorAll("#qa-files tbody tr"))
          .filter((row) => row.querySelector(".use").checked)
          .map((row) => {
            const source = {kind: "qa", path: row.dataset.file, assign: row.querySelector(".assign").value};
            const limit = row.querySelector(".limit").value;
            if (limit) source.limit = parseInt(limit, 10);
            return source;
          });
        for (const [split, share] of Object.entries(config.splits || {})) if (!share) delete config.splits[split];
        return config;
      },
      next: (job) => `/jobs/${job.id}`,
    });
  }

  const train = document.getElementById("train");
  if (train) {
    const recipe = JSON.parse(document.getElementById("recipe-config").textContent);
    GT.onSubmit(train, {
      url: "/v1/fine_tuning/jobs",
      build: (form) => GT.formValues(form, structuredClone(recipe)),
      next: (job) => `/jobs/${job.id}`,
    });
  }

  const evaluate = document.getElementById("evaluate");
  if (evaluate) {
    GT.onSubmit(evaluate, {
      url: "/v1/evaluations",
      build: (form) => {
        const config = GT.formValues(form);
        config.suites = Array.from(form.querySelectorAll("input.suite:checked")).map((i) => i.value);
        const extra = form.querySelector("#extra-suites").value.split(",").map((s) => s.trim()).filter(Boolean);
        config.suites.push(...extra);
        config.adapters = Array.from(form.querySelectorAll("input.adapter:checked")).map((i) => i.value);
        return config;
      },
      next: (job) => `/jobs/${job.id}`,
    });
  }
});
