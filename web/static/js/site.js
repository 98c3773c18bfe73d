/* The site's only script: star ratings without a reload, the "updating…" banner that
   swaps in the refreshed list once the worker is done, and filters that apply on a choice.
   Pages work without it (plain forms). */
(function () {
  "use strict";

  var POLL_MS = 500;
  var POLL_LIMIT_MS = 60000;

  function paint(form, value) {
    form.querySelectorAll("button.half").forEach(function (button) {
      button.classList.toggle("on", value !== null && parseFloat(button.value) <= value);
      button.setAttribute("aria-pressed", String(value !== null && parseFloat(button.value) === value));
    });
    var remove = form.querySelector("button.remove");
    if (remove) remove.hidden = value === null;
    form.dataset.current = value === null ? "" : String(value);
  }

  function countRated() {
    var counter = document.getElementById("rated-count");
    if (!counter) return;
    var rated = document.querySelectorAll('form.stars:not([data-current=""])').length;
    counter.textContent = String(Math.max(rated, parseInt(counter.dataset.base || counter.textContent, 10) || 0));
  }

  /* A rated recommendation leaves the list: the keyboard moves on to the next card's title (the previous one's at the end). */
  function focusNextCard(card) {
    var neighbour = card.nextElementSibling || card.previousElementSibling;
    var title = neighbour && neighbour.querySelector("a.title");
    if (title) title.focus();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form.stars") || !window.fetch) return;
    event.preventDefault();
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) data.set(event.submitter.name, event.submitter.value);
    var status = form.querySelector(".stars-status");
    status.textContent = "Saving…";
    fetch(form.action, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": data.get("csrfmiddlewaretoken") }
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; }, function () {
        // Not JSON: Django's own 403 page when the CSRF token has expired (a page left open for long), or a proxy's error.
        return { ok: false, body: { error: response.status === 403
          ? "Not saved: this page has expired. Reload it and rate again."
          : "Not saved (HTTP " + response.status + "), try again." } };
      });
    }).then(function (result) {
      if (!result.ok) { status.textContent = result.body.error || "Could not save."; return; }
      var body = result.body;
      var focused = document.activeElement;
      paint(form, body.rating);
      // The × hides itself once the rating is gone: a keyboard that pressed it stays on these stars, not the page's top.
      if (focused && focused.hidden && form.contains(focused)) form.querySelector("button.half").focus();
      status.textContent = body.rating === null ? "Removed" : "Saved " + body.rating + "★";
      // Without the banner (every page but the user's recommendations) the status says what the banner would.
      if (!banner && body.queued === false) status.textContent += ": recommendations will update later (the background queue is unavailable).";
      var card = form.closest("[data-recommended]");
      if (card && body.rating !== null) {
        if (card.contains(document.activeElement)) focusNextCard(card);
        card.remove();
      }
      countRated();
      if (typeof body.rated_count === "number") {  // "12 ratings" on one's own pages, without a reload
        var counter = document.getElementById("rated-count");
        if (counter) counter.textContent = String(body.rated_count);
        document.querySelectorAll("[data-rated-count]").forEach(function (node) {
          node.textContent = body.rated_count + (body.rated_count === 1 ? " rating" : " ratings");
        });
      }
      updating(body.queued === false ? "unavailable" : "start");
    }).catch(function () { status.textContent = "Network error: not saved, try again."; });
  });

  /* The banner: shown while the user's refresh is queued or running; then the list is re-fetched. */
  var banner = document.getElementById("updating");
  var polling = false;

  /* A conditional request: the list names its ETag (data-etag), and a 304 means the list shown is current.
     "no-store" keeps the browser's cache out of it, so the 304 reaches this code. */
  function swapList() {
    var url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    var shown = document.getElementById("recs");
    var headers = shown && shown.dataset.etag ? { "If-None-Match": shown.dataset.etag } : {};
    return fetch(url, { credentials: "same-origin", cache: "no-store", headers: headers }).then(function (r) {
      if (r.status === 304) return;
      return r.text().then(function (html) {
        var current = document.getElementById("recs");
        if (!current) return;
        // The keyboard's place in the old list: the same movie's title in the new one (the first title if it went).
        var wasIn = current.contains(document.activeElement);
        var focusedCard = wasIn ? document.activeElement.closest("li.card") : null;
        current.outerHTML = html;
        if (!wasIn) return;
        var fresh = document.getElementById("recs");
        var title = fresh && ((focusedCard && fresh.querySelector('li.card[data-movie="' + focusedCard.dataset.movie + '"] a.title'))
          || fresh.querySelector("li.card a.title"));
        if (title) title.focus();
      });
    });
  }

  function poll(started) {
    fetch(banner.dataset.statusUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.updating === null) { updating("unavailable"); polling = false; return; }
        if (body.updating && Date.now() - started < POLL_LIMIT_MS) { setTimeout(function () { poll(started); }, POLL_MS); return; }
        polling = false;
        if (body.updating) { banner.textContent = "Still updating: reload the page in a while."; return; }
        swapList().then(function () {
          banner.hidden = true;
          banner.dataset.updating = "";
          var said = document.getElementById("live-said");  // the hidden banner is not heard: say it is done
          if (said) said.textContent = "Recommendations updated.";
        });
      })
      .catch(function () { setTimeout(function () { poll(started); }, POLL_MS * 4); });
  }

  function updating(state) {
    if (!banner) return;
    banner.hidden = false;
    if (state === "unavailable") {
      banner.textContent = "Recommendations will update later: the background queue is unavailable.";
      return;
    }
    banner.textContent = "Updating your recommendations…";
    banner.dataset.updating = "1";
    if (!polling) { polling = true; poll(Date.now()); }
  }

  if (banner && banner.dataset.updating === "1") updating("start");

  /* The watchlist and "not interested" buttons are plain forms that reload the page. The keyboard would start
     again at the page's top: the button in the same place of that movie's form takes it back, described by the
     message that says what was done ("#said"); with the movie gone from the list, the message itself takes it. */
  var PRESSED = "movie-actions:pressed";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form.movie-actions") || !event.submitter || !window.sessionStorage) return;
    var buttons = Array.prototype.slice.call(form.querySelectorAll("button"));
    sessionStorage.setItem(PRESSED, JSON.stringify({ action: form.getAttribute("action"), index: buttons.indexOf(event.submitter) }));
  });
  (function () {
    var pressed = window.sessionStorage && sessionStorage.getItem(PRESSED);
    if (!pressed) return;
    sessionStorage.removeItem(PRESSED);
    var said = document.getElementById("said");
    if (!said) return;  // not the page the button went back to (a refused form, a sign-in)
    pressed = JSON.parse(pressed);
    var form = Array.prototype.find.call(document.querySelectorAll("main form.movie-actions"), function (f) {
      return f.getAttribute("action") === pressed.action;
    });
    var button = form && form.querySelectorAll("button")[pressed.index];
    if (button) {
      button.setAttribute("aria-describedby", "said");
      button.focus();
    } else {
      said.focus();
    }
  })();

  /* A filter <select data-autosubmit> applies on a mouse's choice (an inline onchange= would break the CSP). The
     keyboard's arrows change a closed <select> at once too: they only browse, and Enter (or the Filter button
     beside it) applies, or the first arrow would load the page filtered by the next genre (WCAG 3.2.2). */
  var keyed = null;
  document.addEventListener("keydown", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches("select[data-autosubmit]")) return;
    if (event.key === "Enter" && select.form) { event.preventDefault(); select.form.submit(); return; }
    keyed = select;
  });
  document.addEventListener("pointerdown", function () { keyed = null; });
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.matches("select[data-autosubmit]") && select.form && keyed !== select) select.form.submit();
  });
})();
