// Firebreak web view: "load more" on the timeline and live updates of an open incident page.
// No library; everything inserted comes from our own server, rendered with Jinja2 autoescape.
"use strict";
(function () {
  const article = document.getElementById("incident");
  if (!article) return;
  const number = article.dataset.number;
  const statusLine = document.getElementById("live-status");

  function say(text) {
    if (statusLine) statusLine.textContent = text;
  }

  function items(html) {
    const doc = new DOMParser().parseFromString("<ol>" + html + "</ol>", "text/html");
    return Array.from(doc.body.firstElementChild.children);
  }

  document.addEventListener("click", async function (event) {
    const link = event.target.closest ? event.target.closest("#load-more") : null;
    if (!link) return;
    event.preventDefault();
    link.setAttribute("aria-busy", "true");
    try {
      const response = await fetch("/incidents/" + number + "/timeline?before=" + encodeURIComponent(link.dataset.cursor), {
        credentials: "same-origin",
      });
      if (!response.ok) {
        window.location.href = link.href;
        return;
      }
      const next = response.headers.get("X-Next-Cursor");
      const added = items(await response.text());
      document.getElementById("timeline").append(...added);
      if (next) {
        link.dataset.cursor = next;
        link.href = "/incidents/" + number + "?before=" + encodeURIComponent(next);
      } else {
        link.parentElement.remove();
      }
      say(added.length + " older entries loaded.");
      if (added.length) added[0].setAttribute("tabindex", "-1"), added[0].focus();
    } finally {
      link.removeAttribute("aria-busy");
    }
  });

  if (article.dataset.static || !window.EventSource) return;

  let busy = false;
  let again = false;

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const response = await fetch("/incidents/" + number + "/live?after=" + article.dataset.newest, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.status === 401) {
        say("You were signed out: reload the page to sign in again.");
        return;
      }
      if (!response.ok) return;
      const data = await response.json();
      if (data.gap) {
        window.location.reload();
        return;
      }
      const doc = new DOMParser().parseFromString("<div>" + data.summary + "</div>", "text/html");
      document.getElementById("summary").replaceChildren(...doc.body.firstElementChild.childNodes);
      const added = items(data.entries);
      added.forEach(function (item) {
        item.classList.add("new");
      });
      document.getElementById("timeline").prepend(...added);
      article.dataset.newest = String(data.newest);
      article.dataset.marker = data.marker;
      say(data.count ? data.count + (data.count === 1 ? " new entry." : " new entries.") : "Updated.");
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  const source = new EventSource("/incidents/" + number + "/events");
  source.addEventListener("change", function (event) {
    if (event.data !== article.dataset.marker) refresh();
  });
  source.addEventListener("gone", function () {
    source.close();
  });
  source.addEventListener("open", function () {
    article.dataset.live = "connected";
  });
  source.addEventListener("error", function () {
    article.dataset.live = "reconnecting";
    say("Connection lost; reconnecting…");
  });
})();
