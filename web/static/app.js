// Search as you type: a small list of the best hits under the search box,
// fetched from /api/search while the user types. Optional: the page works
// the same without it (the form submits to the server, which renders all).
//
// Japanese is typed through an IME: while a composition is open the text in
// the box is not what the user means yet, so nothing is searched until it is
// committed (compositionend). Typing is debounced (250 ms), and only the
// answer to the latest request is shown.
(function () {
  "use strict";

  var DEBOUNCE_MS = 250;
  var LIVE_HITS = 5;

  var form = document.querySelector("form.search-form");
  var box = form && form.querySelector("input[name=q]");
  if (!box || !window.fetch || !window.URLSearchParams) {
    return;
  }

  var composing = false;
  var timer = null;
  var latest = 0;
  var controller = null;
  var shownFor = box.value.trim();

  var panel = document.createElement("section");
  panel.className = "live";
  panel.id = "live-results";
  panel.setAttribute("aria-label", "入力中の検索候補");
  panel.hidden = true;
  box.setAttribute("aria-controls", panel.id);
  var status = document.createElement("p");
  status.className = "live-status";
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  var list = document.createElement("ul");
  list.className = "live-hits";
  panel.appendChild(status);
  panel.appendChild(list);
  form.parentNode.insertBefore(panel, form.nextSibling);

  function hide() {
    panel.hidden = true;
    status.textContent = "";
    list.textContent = "";
  }

  function params(q) {
    // The form's other fields (sort, op, dates, filters) apply too.
    var p = new URLSearchParams();
    var data = new FormData(form);
    data.forEach(function (value, key) {
      if (key !== "q" && key !== "page" && key !== "per_page" && String(value).trim()) {
        p.append(key, value);
      }
    });
    p.set("q", q);
    p.set("per_page", String(LIVE_HITS));
    return p;
  }

  function jdate(day) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day || "");
    return m ? Number(m[1]) + "年" + Number(m[2]) + "月" + Number(m[3]) + "日" : day || "";
  }

  function render(q, answer) {
    list.textContent = "";
    status.textContent = "「" + q + "」の候補: " + answer.total.toLocaleString("ja-JP") + " 件";
    answer.hits.forEach(function (hit) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "/items/" + encodeURIComponent(hit.id) + "?q=" + encodeURIComponent(q);
      // headline_html is escaped by the engine, with <mark> around matches.
      a.innerHTML = hit.headline_html || "（見出しなし）";
      var meta = document.createElement("span");
      meta.className = "live-meta";
      meta.textContent = hit.source + " · " + jdate(hit.date);
      li.appendChild(a);
      li.appendChild(meta);
      list.appendChild(li);
    });
    if (answer.total > answer.hits.length) {
      var more = document.createElement("li");
      more.className = "live-more";
      var all = document.createElement("a");
      var p = params(q);
      p.delete("per_page");
      all.href = form.getAttribute("action") + "?" + p.toString();
      all.textContent = "すべての結果を表示（" + answer.total.toLocaleString("ja-JP") + " 件）";
      more.appendChild(all);
      list.appendChild(more);
    }
    panel.hidden = false;
  }

  function search() {
    timer = null;
    var q = box.value.trim();
    if (!q || q === shownFor) {
      if (!q) {
        hide();
      }
      shownFor = q;
      return;
    }
    shownFor = q;
    var id = ++latest;
    if (controller) {
      controller.abort();
    }
    controller = window.AbortController ? new AbortController() : null;
    fetch("/api/search?" + params(q).toString(), {
      headers: { Accept: "application/json" },
      signal: controller ? controller.signal : undefined,
    })
      .then(function (response) {
        return response.json().then(function (body) {
          return { ok: response.ok, body: body };
        });
      })
      .then(function (result) {
        if (id !== latest) {
          return; // an older answer, arriving late
        }
        if (result.ok) {
          render(q, result.body);
        } else {
          list.textContent = "";
          status.textContent = (result.body.error && result.body.error.message) || "";
          panel.hidden = !status.textContent;
        }
      })
      .catch(function () {
        // Aborted or offline: the form still works.
      });
  }

  function schedule() {
    if (timer) {
      clearTimeout(timer);
    }
    timer = setTimeout(search, DEBOUNCE_MS);
  }

  box.addEventListener("compositionstart", function () {
    composing = true;
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
  });
  box.addEventListener("compositionend", function () {
    composing = false;
    schedule();
  });
  box.addEventListener("input", function (event) {
    if (composing || event.isComposing) {
      return; // the IME has not committed the text yet
    }
    schedule();
  });
  // The keyboard reaches the suggestions: ArrowDown from the box enters the
  // list, ArrowUp/ArrowDown move through it (ArrowUp from the first goes back
  // to the box), Escape closes it from anywhere on the page.
  function links() {
    return Array.prototype.slice.call(list.querySelectorAll("a"));
  }

  function move(event, from) {
    var items = links();
    if (panel.hidden || !items.length) {
      return;
    }
    var at = items.indexOf(from);
    var next = event.key === "ArrowDown" ? at + 1 : at - 1;
    event.preventDefault();
    if (next < 0) {
      box.focus();
    } else if (next < items.length) {
      items[next].focus();
    }
  }

  box.addEventListener("keydown", function (event) {
    if (event.isComposing) {
      return;
    }
    if (event.key === "ArrowDown") {
      move(event, null);
    }
  });
  list.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      move(event, document.activeElement);
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !event.isComposing && !panel.hidden) {
      var inside = panel.contains(document.activeElement);
      hide();
      if (inside) {
        box.focus();
      }
    }
  });
  form.addEventListener("submit", function () {
    // The server renders the results; drop defaults and empty fields so the
    // address stays short (/?q=… rather than /?q=…&sort=relevance&op=and&from=&to=).
    if (timer) {
      clearTimeout(timer);
    }
    latest++;
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field === box) {
        return;
      }
      var value = String(field.value || "").trim();
      if (!value || (field.name === "sort" && value === "relevance") ||
          (field.name === "op" && value === "and")) {
        field.disabled = true;
      }
    });
  });
  window.addEventListener("pageshow", function () {
    // Coming back through the history: fields disabled on submit work again.
    Array.prototype.forEach.call(form.elements, function (field) {
      field.disabled = false;
    });
  });
})();
