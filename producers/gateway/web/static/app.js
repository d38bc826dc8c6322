// Live updates over server-sent events: the server renders the changed rows (or the ECO's
// details) and this swaps them in. Without JavaScript the pages work; they just do not update.
(function () {
  "use strict";
  function live(el, target, onSwap) {
    var url = el.getAttribute("data-live");
    if (!url || !window.EventSource) return;
    var state = document.getElementById("live-state");
    var es = new EventSource(url);
    es.addEventListener("update", function (ev) {
      target.innerHTML = ev.data;
      if (onSwap) onSwap();
      if (state) state.textContent = "Live · updated " + new Date().toLocaleTimeString();
    });
    es.addEventListener("open", function () { if (state) state.textContent = "Live"; });
    es.addEventListener("error", function () {
      if (state) state.textContent = "Reconnecting…";
      if (es.readyState === EventSource.CLOSED) { if (state) state.textContent = "Live updates stopped; reload the page."; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var board = document.querySelector("table.board[data-live]");
    if (board) live(board, document.getElementById("rows"));
    var eco = document.getElementById("eco-live");
    if (eco) live(eco, eco);
  });
})();
