/* SLA countdowns: every element with data-due (an ISO time) shows the time left or overdue. */
(function () {
  "use strict";

  function span(ms) {
    var minutes = Math.floor(Math.abs(ms) / 60000);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var text = (days ? days + "天" : "") + (hours ? hours + "小时" : "") + (minutes % 60) + "分";
    return ms >= 0 ? "剩余 " + text : "已超时 " + text;
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (!isNaN(due)) {
        el.textContent = span(due - now);
        el.classList.toggle("overdue", due < now);
      }
    });
  }

  tick();
  window.setInterval(tick, 30000);
})();
