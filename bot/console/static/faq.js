/* FAQ edit page: loads the match preview (server-rendered, escaped HTML from our own origin)
   into its section, and runs the "try a question" form in place. Without JavaScript the
   section's link opens the same preview as a page. */
(function () {
  "use strict";

  var section = document.getElementById("faq-preview");
  if (!section || !section.getAttribute("data-src") || !window.fetch) { return; }
  var heading = section.querySelector("h2");

  function show(url) {
    var status = document.createElement("p");
    status.className = "hint";
    status.textContent = "正在检查最近的居民消息……";
    replaceBody(status);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (resp) {
        if (!resp.ok) { throw new Error(String(resp.status)); }
        return resp.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var body = doc.getElementById("faq-preview-body");
        if (!body) { throw new Error("no preview"); }
        replaceBody(document.importNode(body, true));
        bindTry();
      })
      .catch(function () {
        status.textContent = "匹配预览暂时无法加载，请稍后刷新页面。";
      });
  }

  function replaceBody(node) {
    while (heading.nextSibling) { section.removeChild(heading.nextSibling); }
    section.appendChild(node);
  }

  function bindTry() {
    var form = document.getElementById("faq-try");
    if (!form) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var params = new URLSearchParams(new FormData(form));
      params.set("fragment", "1");
      show(form.getAttribute("action") + (form.getAttribute("action").indexOf("?") < 0 ? "?" : "&") + params.toString());
    });
  }

  show(section.getAttribute("data-src"));
})();
