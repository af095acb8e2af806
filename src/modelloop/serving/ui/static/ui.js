// modelloop dashboard: a little vanilla JavaScript (no libraries, no outside requests).
"use strict";

(function () {
  const base = document.body.dataset.base || "";

  function flash(message, isError) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = message;
    box.className = isError ? "error" : "";
    box.hidden = false;
  }

  // The API key lives in this tab only (sessionStorage), never in a cookie or the page.
  const keyInput = document.getElementById("api-key");
  if (keyInput) {
    keyInput.value = sessionStorage.getItem("modelloop-api-key") || "";
    keyInput.addEventListener("change", () => {
      sessionStorage.setItem("modelloop-api-key", keyInput.value);
    });
  }

  // Promote and rollback: POST with the key in the X-API-Key header, then reload.
  document.querySelectorAll("form.admin").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const key = keyInput ? keyInput.value : "";
      const headers = { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" };
      if (key) headers["X-API-Key"] = key;
      const body = new URLSearchParams(new FormData(form));
      let answer;
      try {
        answer = await fetch(form.action, { method: "POST", headers, body });
      } catch (err) {
        flash("The server could not be reached: " + err, true);
        return;
      }
      let payload = {};
      try { payload = await answer.json(); } catch (err) { payload = {}; }
      if (!answer.ok) {
        const msg = payload.error ? payload.error.message : answer.statusText;
        flash(answer.status + ": " + msg, true);
        return;
      }
      const where = payload.from_version !== undefined
        ? `${payload.model}@${payload.alias} rolled back from version ${payload.from_version} to version ${payload.version}.`
        : `${payload.model}@${payload.alias} now points at version ${payload.version}.`;
      const url = new URL(window.location.href);
      url.searchParams.set("msg", where);
      window.location.assign(url.toString());
    });
  });

  // Runs page: tick runs, then compare them.
  const compare = document.getElementById("compare-button");
  if (compare) {
    const picks = () => Array.from(document.querySelectorAll("input.pick:checked")).map((b) => b.value);
    const update = () => {
      const n = picks().length;
      compare.disabled = n < 2;
      compare.textContent = n ? `Compare selected (${n})` : "Compare selected";
    };
    document.querySelectorAll("input.pick").forEach((box) => box.addEventListener("change", update));
    compare.addEventListener("click", () => {
      window.location.assign(`${base}/compare?ids=${encodeURIComponent(picks().join(","))}`);
    });
    update();
  }

  // Live view: refresh the panels in place every 5 seconds.
  const panels = document.getElementById("live-panels");
  if (panels) {
    const auto = document.getElementById("auto-refresh");
    setInterval(async () => {
      if (auto && !auto.checked) return;
      try {
        const answer = await fetch(panels.dataset.src, { headers: { "Accept": "text/html" } });
        if (answer.ok) panels.innerHTML = await answer.text();
      } catch (err) { /* keep the last view; try again next time */ }
    }, 5000);
  }

  // Reports: grow the frame to the report's height once it has loaded.
  document.querySelectorAll("iframe.report").forEach((frame) => {
    frame.addEventListener("load", () => {
      try {
        const doc = frame.contentDocument;
        if (doc && doc.body) frame.style.height = Math.max(200, doc.body.scrollHeight + 24) + "px";
      } catch (err) { /* another origin: keep the default height */ }
    });
  });
})();
