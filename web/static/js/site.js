/* The site's only script: star ratings, the watchlist and "not interested" without a reload, the "updating…" banner that
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
    return Boolean(title);
  }

  /* The movie page's "Your match" is for a movie one may be recommended: not once it is rated or dismissed (as the
     page leaves it out when it is made). Its own forms only: a similar movie's card is another movie. */
  function noLongerAMatch(form) {
    var match = document.getElementById("match");
    if (match && form.closest(".my-rating")) match.hidden = true;
  }

  /* POST a form's data in the background, asking for JSON: a promise of {ok, body}; body.error says a refusal in words. */
  function send(form, data, again) {
    // getAttribute: the watchlist buttons are named "action", and form.action would be one of them.
    return fetch(form.getAttribute("action"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": data.get("csrfmiddlewaretoken") }
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; }, function () {
        // Not JSON: the site's 403 page when the CSRF token has expired (a page left open for long), or a proxy's error.
        return { ok: false, body: { error: response.status === 403
          ? "Not saved: this page has expired. Reload it and " + again + "."
          : "Not saved (HTTP " + response.status + "), try again." } };
      });
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form.stars") || !window.fetch) return;
    event.preventDefault();
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) data.set(event.submitter.name, event.submitter.value);
    var status = form.querySelector(".stars-status");
    status.textContent = "Saving…";
    send(form, data, "rate again").then(function (result) {
      if (!result.ok) { status.textContent = result.body.error || "Could not save."; return; }
      var body = result.body;
      var focused = document.activeElement;
      paint(form, body.rating);
      // The × hides itself once the rating is gone: a keyboard that pressed it stays on these stars, not the page's top.
      if (focused && focused.hidden && form.contains(focused)) form.querySelector("button.half").focus();
      status.textContent = body.rating === null ? "Removed" : "Saved " + body.rating + "★";
      // Without the banner (every page but the user's recommendations) the status says what the banner would.
      if (!banner && body.queued === false) status.textContent += ": recommendations will update later (the background queue is unavailable).";
      if (body.rating !== null) noLongerAMatch(form);
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

  /* Watchlist and "not interested" in the background, as the stars: the reader keeps their place in a long list.
     A button turns into its undo (data-undo-*); a card that the answer takes off this list leaves it. */
  function swapButton(button) {
    var was = { value: button.value, text: button.textContent, title: button.getAttribute("title") };
    button.value = button.dataset.undoValue;
    button.textContent = button.dataset.undoText;
    if (button.dataset.undoTitle) button.setAttribute("title", button.dataset.undoTitle); else button.removeAttribute("title");
    button.dataset.undoValue = was.value;
    button.dataset.undoText = was.text;
    if (was.title) button.dataset.undoTitle = was.title; else delete button.dataset.undoTitle;
  }

  /* The watchlist page's "N movies" after a removal in place, and its words for an empty list once the last one went. */
  function countWatchlist(list) {
    var left = list.querySelectorAll("li.card").length;
    document.querySelectorAll("[data-watchlist-count]").forEach(function (node) {
      node.textContent = left + (left === 1 ? " movie" : " movies");
    });
    if (!left) {
      var empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = list.dataset.empty;
      list.appendChild(empty);
    }
  }

  function pageStatus(text) {
    var main = document.querySelector("main");
    var note = document.getElementById("action-status");
    if (!note) {
      note = document.createElement("p");
      note.id = "action-status";
      note.className = "message success";
      note.setAttribute("role", "status");
      note.tabIndex = -1;  // it takes the keyboard when the card that had it left and no card is left to take it
      main.insertBefore(note, main.firstChild);
    }
    note.textContent = text;
    return note;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form.movie-actions") || !window.fetch || !event.submitter) return;
    event.preventDefault();
    var button = event.submitter;
    var data = new FormData(form);
    data.set(button.name, button.value);
    var status = form.querySelector(".actions-status");
    status.textContent = "Saving…";
    send(form, data, "try again").then(function (result) {
      if (!result.ok) { status.textContent = result.body.error || "Could not save."; return; }
      var action = result.body.action;
      var card = form.closest("li.card");
      var leaves = card && ((action === "not_interested" && card.hasAttribute("data-recommended"))
        || (action === "watchlist_remove" && card.closest("#watchlist")));
      if (leaves) {
        var hadFocus = card.contains(document.activeElement);
        var moved = hadFocus && focusNextCard(card);
        var list = card.parentNode;
        card.remove();
        var note = pageStatus(result.body.message);
        if (hadFocus && !moved) note.focus();
        if (list.id === "watchlist") countWatchlist(list);
        return;
      }
      swapButton(button);
      status.textContent = result.body.message;
      if (action === "not_interested") noLongerAMatch(form);
      if (action === "not_interested_remove") {  // the movie page's note about the dismissal no longer holds
        var note = document.getElementById("not-interested");
        if (note) note.remove();
      }
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
    banner.textContent = banner.dataset.updatingText;  /* "your" or "these": the page knows whose list it is */
    banner.dataset.updating = "1";
    if (!polling) { polling = true; poll(Date.now()); }
  }

  if (banner && banner.dataset.updating === "1") updating("start");

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
