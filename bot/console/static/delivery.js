/* The conversation page: "复制内容" copies a reply that did not reach the resident, to send it
   by phone (text message) or read it out on a call. */
(function () {
  "use strict";

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return fallbackCopy(text);
      });
    }
    return fallbackCopy(text);
  }

  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    var label = button.textContent;
    button.addEventListener("click", function () {
      copy(button.getAttribute("data-copy")).then(
        function () { button.textContent = "已复制"; },
        function () { button.textContent = "复制失败，请长按消息手动复制"; }
      );
      window.setTimeout(function () { button.textContent = label; }, 4000);
    });
  });
})();
