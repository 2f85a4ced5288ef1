// vpnguard leak check: gather ICE candidates once and POST them back.
// No external resources; the configuration is a JSON data block in the page.
"use strict";
(function () {
  var t0 = performance.now();
  var cfg = JSON.parse(document.getElementById("vpnguard-config").textContent);
  var status = document.getElementById("status");
  var report = {
    slot: cfg.slot,
    user_agent: navigator.userAgent,
    webrtc: typeof window.RTCPeerConnection === "function",
    candidates: [],
    gathering_state: null,
    timed_out: false,
    error: null,
    timings: { page_ms: Math.round(t0) }
  };
  var sent = false;
  function send() {
    if (sent) { return; }
    sent = true;
    report.timings.total_ms = Math.round(performance.now() - t0);
    fetch(cfg.report_url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(report),
      cache: "no-store"
    }).then(function (r) {
      status.textContent = r.ok ? "Done: the result is in vpnguard. You can close this tab."
                                : "vpnguard refused the report (" + r.status + ").";
    }, function (e) { status.textContent = "Could not send the report: " + e; });
  }
  if (!report.webrtc) { send(); return; }
  var pc;
  function finish(why) {
    if (sent) { return; }
    report.timings.gather_ms = Math.round(performance.now() - t0);
    report.timed_out = why === "timeout";
    try { report.gathering_state = pc.iceGatheringState; pc.close(); } catch (e) { /* closing only */ }
    send();
  }
  try {
    pc = new RTCPeerConnection({ iceServers: cfg.ice_servers });
    pc.createDataChannel("vpnguard");
    pc.onicecandidate = function (ev) {
      if (ev.candidate && ev.candidate.candidate) {
        report.candidates.push(ev.candidate.candidate);
      }
    };
    pc.onicegatheringstatechange = function () {
      if (pc.iceGatheringState === "complete") { finish("complete"); }
    };
    setTimeout(function () { finish("timeout"); }, cfg.gather_timeout_ms);
    pc.createOffer().then(function (offer) {
      report.timings.offer_ms = Math.round(performance.now() - t0);
      return pc.setLocalDescription(offer);
    }).then(function () {
      report.timings.local_description_ms = Math.round(performance.now() - t0);
      // Seen: Firefox with media.peerconnection.ice.proxy_only and no proxy never leaves
      // "new". Normal gathering starts within milliseconds, so a second of "new" with no
      // candidate means it never will: report now instead of waiting for the timeout.
      setTimeout(function () {
        if (pc.iceGatheringState === "new" && report.candidates.length === 0) {
          finish("never_started");
        }
      }, cfg.never_started_ms);
    }).catch(function (e) { report.error = String(e); finish("error"); });
  } catch (e) {
    report.error = String(e);
    send();
  }
})();
