/* Live inbox: listens to the committee's event stream and announces new emergencies and
   handoffs without a reload (a feed entry, a short beep, a flashing title). All text is set
   with textContent: resident text is never parsed as HTML. */
(function () {
  "use strict";

  var root = document.getElementById("inbox");
  if (!root || !window.EventSource) { return; }
  var feed = document.getElementById("live-feed");
  var status = document.getElementById("live-status");
  var originalTitle = document.title;
  var flashTimer = null;
  var audio = null;

  var LABELS = {
    emergency: "紧急求助",
    handoff: "居民请求转人工",
    resident_message: "居民新消息",
    takeover: "会话已被接手",
    release: "会话已交还机器人",
    handoff_timeout: "转人工超时，已转为工单",
    ticket_reopened: "工单被重新打开"
  };
  var ALERTS = { emergency: true, handoff: true };

  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return; }
      audio = audio || new Ctx();
      if (audio.state === "suspended") { audio.resume(); }
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.4);
    } catch (e) { /* no sound available: the feed and the title still alert */ }
  }

  function flashTitle(text) {
    if (flashTimer !== null) { window.clearInterval(flashTimer); }
    var on = false;
    var left = 12;
    flashTimer = window.setInterval(function () {
      on = !on;
      /* Keeps flashing while the tab is in the background; stops by itself when in view. */
      if (document.hasFocus() && --left <= 0) { stopFlash(); return; }
      document.title = on ? "【" + text + "】" + originalTitle : originalTitle;
    }, 1000);
  }

  function stopFlash() {
    if (flashTimer !== null) {
      window.clearInterval(flashTimer);
      flashTimer = null;
      document.title = originalTitle;
    }
  }

  function link(href, text) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  /* "我来处理" on a live alert: acknowledges it (and claims its ticket) like the button on the
     page, then reloads so the inbox shows who took it. */
  function ackButton(alertId) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button-urgent";
    button.textContent = "我来处理";
    button.addEventListener("click", function () {
      var meta = document.querySelector('meta[name="csrf-token"]');
      button.disabled = true;
      fetch("/console/alerts/" + encodeURIComponent(alertId) + "/ack", {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": meta ? meta.getAttribute("content") : "" }
      }).then(function () { window.location.reload(); },
              function () { button.disabled = false; });
    });
    return button;
  }

  function addEntry(ev) {
    var li = document.createElement("li");
    li.className = "feed-item feed-" + ev.type;
    var head = document.createElement("strong");
    /* An emergency names its kind: 自伤风险, 独居/失联需上门查看, 火情 … */
    head.textContent = (LABELS[ev.type] || ev.type) + (ev.label ? "：" + ev.label : "");
    if (ev.category === "self_harm") { li.className += " feed-crisis"; }
    li.appendChild(head);
    var when = document.createElement("time");
    when.textContent = " " + new Date(ev.at || Date.now()).toLocaleTimeString("zh-CN");
    li.appendChild(when);
    var parts = [ev.where, ev.sender, ev.text].filter(function (x) { return !!x; });
    if (parts.length) {
      var body = document.createElement("div");
      body.className = "body";
      body.textContent = parts.join(" · ");
      li.appendChild(body);
    }
    var links = document.createElement("div");
    if (ev.conversation) {
      links.appendChild(link("/console/conversations/" + encodeURIComponent(ev.conversation), "打开会话"));
    }
    if (ev.ticket) {
      if (links.childNodes.length) { links.appendChild(document.createTextNode(" · ")); }
      var q = root.getAttribute("data-events-url").split("?")[1];
      links.appendChild(link("/console/tickets/" + encodeURIComponent(ev.ticket) + (q ? "?" + q : ""),
                             "工单 " + ev.ticket));
    }
    if (links.childNodes.length) { li.appendChild(links); }
    if (ev.alert) { li.appendChild(ackButton(ev.alert)); }
    feed.insertBefore(li, feed.firstChild);
    while (feed.childNodes.length > 50) { feed.removeChild(feed.lastChild); }
  }

  var source = new EventSource(root.getAttribute("data-events-url"));
  source.addEventListener("ready", function () {
    status.textContent = "实时提醒已连接。新的紧急求助和转人工会自动出现在这里（刷新页面可查看完整列表）。";
  });
  source.onerror = function () {
    /* After a logout (here or elsewhere), a password change or a disabled account the server
       ends the stream and sends the reconnection to the login page: the browser gives up. */
    status.textContent = source.readyState === EventSource.CLOSED
      ? "实时提醒已停止：登录可能已失效，请刷新页面或重新登录。"
      : "实时提醒连接中断，正在重连……";
  };
  source.onmessage = function (msg) {
    var ev;
    try { ev = JSON.parse(msg.data); } catch (e) { return; }
    if (!ev || typeof ev.type !== "string") { return; }
    addEntry(ev);
    if (ALERTS[ev.type]) {
      beep();
      flashTitle(ev.label || LABELS[ev.type]);
    }
  };

  window.addEventListener("focus", stopFlash);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { stopFlash(); }
  });
  /* Browsers only allow sound after a user gesture: unlock the audio on the first click. */
  document.addEventListener("click", function () {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (Ctx && !audio) { audio = new Ctx(); }
  }, { once: true });
  window.addEventListener("beforeunload", function () { source.close(); });
})();
