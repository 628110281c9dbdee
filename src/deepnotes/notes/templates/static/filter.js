// Filter the questions of the index as the reader types: every word typed must occur in the entry's
// id, original title, gloss, topic, kind, experiment or verdict.  No network, no library.
(function () {
  "use strict";
  var box = document.getElementById("filter");
  var count = document.getElementById("count");
  var none = document.getElementById("none");
  if (!box) { return; }
  var items = Array.prototype.slice.call(document.querySelectorAll("li.entry"));
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.topic"));

  function apply() {
    var words = box.value.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
    var shown = 0;
    items.forEach(function (li) {
      var text = li.getAttribute("data-text") || "";
      var match = words.every(function (w) { return text.indexOf(w) !== -1; });
      li.hidden = !match;
      if (match) { shown += 1; }
    });
    sections.forEach(function (section) {
      section.hidden = section.querySelector("li.entry:not([hidden])") === null;
    });
    count.textContent = words.length ? shown + " of " + items.length + " entries" : items.length + " entries";
    none.hidden = shown !== 0;
  }

  box.addEventListener("input", apply);
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) { box.value = query; }
  apply();
})();
