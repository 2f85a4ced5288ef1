// vpnguard leak check: gather ICE candidates once, place real calls, POST it all back.
// No external resources; the configuration is a JSON data block in the page.
//
// 1. media view only: ask for camera and microphone first (a meeting site does), and keep
//    the capture running while the page gathers: that is what a granted site looks like.
// 2. gather candidates with one RTCPeerConnection (what any page can learn).
// 3. each configured call: two RTCPeerConnections in this page, under the browser's real
//    policy, with the call's ICE servers; they trade candidates and offer/answer here, open
//    a data channel and echo one message; getStats() names the path that carried it.
// Every wait is bounded by the configuration's deadlines.
"use strict";
(function () {
  var t0 = performance.now();
  var cfg = JSON.parse(document.getElementById("vpnguard-config").textContent);
  var status = document.getElementById("status");
  var report = {
    slot: cfg.slot,
    secret: cfg.secret,
    user_agent: navigator.userAgent,
    webrtc: typeof window.RTCPeerConnection === "function",
    candidates: [],
    cand_ms: [],
    gathering_state: null,
    timed_out: false,
    error: null,
    media: null,
    calls: [],
    timings: { page_ms: Math.round(t0) }
  };
  function ms() { return Math.round(performance.now() - t0); }
  var sent = false;
  var stream = null;
  function send() {
    if (sent) { return; }
    sent = true;
    report.timings.total_ms = ms();
    fetch(cfg.report_url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(report),
      cache: "no-store"
    }).then(function (r) {
      status.textContent = r.ok ? "Done: the result is in vpnguard. You can close this tab."
                                : "vpnguard refused the report (" + r.status + ").";
    }, function (e) { status.textContent = "Could not send the report: " + e; });
    if (stream) {
      try { stream.getTracks().forEach(function (t) { t.stop(); }); } catch (e) { /* only stopping */ }
    }
  }
  function withTimeout(promise, limit, label) {
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () { reject(new Error(label + " timed out")); }, limit);
      promise.then(function (v) { clearTimeout(timer); resolve(v); },
                   function (e) { clearTimeout(timer); reject(e); });
    });
  }

  // -- 1. camera and microphone (media view) --------------------------------------------
  function askMedia() {
    if (!cfg.media) { return Promise.resolve(); }
    var md = navigator.mediaDevices;
    if (!md || typeof md.getUserMedia !== "function") {
      report.media = "unavailable: navigator.mediaDevices.getUserMedia is missing";
      return Promise.resolve();
    }
    return withTimeout(md.getUserMedia({ audio: true, video: true }), cfg.media_timeout_ms,
                       "getUserMedia").then(function (s) {
      stream = s;
      report.media = "granted";
      report.timings.media_ms = ms();
    }, function (e) {
      report.media = "refused: " + (e && e.name ? e.name + ": " : "") + (e && e.message || e);
      report.timings.media_ms = ms();
    });
  }

  // -- 2. gather ---------------------------------------------------------------------------
  function gather() {
    return new Promise(function (resolve) {
      var pc, done = false, last = performance.now(), settle = null;
      function finish(why) {
        if (done) { return; }
        done = true;
        clearInterval(settle);
        clearTimeout(again);
        report.timings.gather_ms = ms();
        report.timed_out = why === "timeout";
        report.settled = why === "settled";
        report.proven = why === "proven";
        try { report.gathering_state = pc.iceGatheringState; pc.close(); } catch (e) { /* closing */ }
        resolve();
      }
      try {
        pc = new RTCPeerConnection({ iceServers: cfg.ice_servers });
        pc.createDataChannel("vpnguard");
        pc.onicecandidate = function (ev) {
          if (ev.candidate && ev.candidate.candidate) {
            report.candidates.push(ev.candidate.candidate);
            report.cand_ms.push(ms());
            last = performance.now();
            ask();
          }
        };
        // Ask vpnguard whether gathering may end: it probed every local address against
        // every ICE server itself, and says yes only once every path that answered it has
        // produced its candidate here (see reach.py). A new candidate is asked about at
        // once, even while an older question is still out (at most three in flight); with
        // nothing new, a "no" is asked again after a tenth of a second.
        var inflight = 0, askedN = -1, again = null;
        // Without our probes' answer, no quiet spell ends a view (only completion, a proof,
        // or the gathering deadline do).
        var ready = !cfg.progress_url, settleMs = cfg.settle_ms;
        function ask() {
          var n = report.candidates.length;
          if (done || !cfg.progress_url || inflight >= 3 || (inflight > 0 && n <= askedN)) { return; }
          inflight += 1;
          askedN = n;
          clearTimeout(again);
          fetch(cfg.progress_url, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ secret: cfg.secret, candidates: report.candidates.slice(0, n) }),
            cache: "no-store"
          }).then(function (r) { return r.ok ? r.json() : { end: false }; }).then(function (a) {
            inflight -= 1;
            if (a && a.end === true) { finish("proven"); return; }
            if (a && a.ready === true) {
              // vpnguard's probes are in: the quiet spell covers the slowest answer they got.
              ready = true;
              if (typeof a.settle_ms === "number" && a.settle_ms > settleMs) { settleMs = a.settle_ms; }
            }
            if (report.candidates.length > askedN) { ask(); }
            else if (inflight === 0) { clearTimeout(again); again = setTimeout(ask, 100); }
          }, function () { inflight -= 1; });
        }
        pc.onicegatheringstatechange = function () {
          if (pc.iceGatheringState === "complete") { finish("complete"); }
        };
        setTimeout(function () { finish("timeout"); }, cfg.gather_timeout_ms);
        pc.createOffer().then(function (offer) {
          report.timings.offer_ms = ms();
          return pc.setLocalDescription(offer);
        }).then(function () {
          // A socket whose STUN request is dropped (e.g. a LAN address routed into the
          // tunnel) keeps gathering open for many seconds and yields nothing. Answers on a
          // working path arrive within a round trip or two: once candidates stopped coming
          // for settle_ms, judge what arrived (the report says so).
          last = performance.now();
          if (cfg.settle_ms > 0) {
            settle = setInterval(function () {
              if (ready && pc.iceGatheringState === "gathering" && report.candidates.length > 0 &&
                  performance.now() - last >= settleMs) { finish("settled"); }
            }, 100);
          }
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
        finish("error");
      }
    });
  }

  // -- 3. calls ----------------------------------------------------------------------------
  function call(spec) {
    var c0 = performance.now();
    var res = {
      name: spec.name, connected: false, ms: null, ice_state: null, gathering: [null, null],
      local_types: [], remote_types: [], errors: [], path: null, error: null, timed_out: false
    };
    return new Promise(function (resolve) {
      var a, b, done = false, timer, nudge;
      function end(why) {
        if (done) { return; }
        done = true;
        clearTimeout(timer); clearTimeout(nudge);
        res.ms = Math.round(performance.now() - c0);
        res.timed_out = why === "timeout";
        try { res.ice_state = a.iceConnectionState; res.gathering = [a.iceGatheringState, b.iceGatheringState]; }
        catch (e) { /* reading only */ }
        var stats = res.connected ? pathOf(a) : Promise.resolve(null);
        stats.then(function (p) { res.path = p; }, function (e) { res.error = "getStats: " + e; })
          .then(function () {
            try { a.close(); b.close(); } catch (e) { /* closing */ }
            resolve(res);
          });
      }
      var settled = false;  // offer/answer done and never_started_ms passed
      function stuck() {
        // Nothing can connect once both sides finished (or, after a grace time, never
        // started) gathering with no candidate on one side, or ICE failed: end early
        // instead of waiting for the deadline.
        var ga = a.iceGatheringState, gb = b.iceGatheringState;
        var idle = function (g) { return g === "complete" || (settled && g === "new"); };
        if (a.iceConnectionState === "failed" || b.iceConnectionState === "failed") { return true; }
        return idle(ga) && idle(gb) && (res.local_types.length === 0 || res.remote_types.length === 0);
      }
      function check() { if (!done && !res.connected && stuck()) { end("no_path"); } }
      try {
        var conf = { iceServers: spec.ice_servers, iceTransportPolicy: spec.relay_only ? "relay" : "all" };
        a = new RTCPeerConnection(conf);
        b = new RTCPeerConnection(conf);
        [[a, b, res.local_types], [b, a, res.remote_types]].forEach(function (x) {
          var self = x[0], peer = x[1], types = x[2];
          self.onicecandidate = function (ev) {
            if (ev.candidate && ev.candidate.candidate) {
              var m = / typ (\w+)/.exec(ev.candidate.candidate);
              types.push(m ? m[1] : "?");
              peer.addIceCandidate(ev.candidate).catch(function (e) { res.errors.push({ code: 0, text: "addIceCandidate: " + e }); });
            }
          };
          self.onicecandidateerror = function (ev) {
            if (res.errors.length < 20) {
              res.errors.push({ code: ev.errorCode || 0, text: String(ev.errorText || "").slice(0, 200),
                                url: String(ev.url || "").slice(0, 200) });
            }
          };
          self.onicegatheringstatechange = check;
          self.oniceconnectionstatechange = check;
        });
        var token = "vpnguard-" + Math.random().toString(36).slice(2);
        var ch = a.createDataChannel("call");
        ch.onopen = function () { ch.send(token); };
        ch.onmessage = function (ev) { if (ev.data === "echo:" + token) { res.connected = true; end("echo"); } };
        b.ondatachannel = function (ev) {
          ev.channel.onmessage = function (m) { ev.channel.send("echo:" + m.data); };
        };
        timer = setTimeout(function () { end("timeout"); }, spec.timeout_ms);
        a.createOffer().then(function (o) { return a.setLocalDescription(o); })
          .then(function () { return b.setRemoteDescription(a.localDescription); })
          .then(function () { return b.createAnswer(); })
          .then(function (o) { return b.setLocalDescription(o); })
          .then(function () { return a.setRemoteDescription(b.localDescription); })
          .then(function () { nudge = setTimeout(function () { settled = true; check(); }, cfg.never_started_ms); })
          .catch(function (e) { res.error = String(e).slice(0, 300); end("error"); });
      } catch (e) {
        res.error = String(e).slice(0, 300);
        res.ms = Math.round(performance.now() - c0);
        done = true;
        resolve(res);
      }
    });
  }
  function pathOf(pc) {
    return pc.getStats().then(function (stats) {
      var pairs = [], byId = {};
      stats.forEach(function (s) {
        byId[s.id] = s;
        if (s.type === "candidate-pair") { pairs.push(s); }
      });
      var sel = null;
      stats.forEach(function (s) {
        if (s.type === "transport" && s.selectedCandidatePairId) { sel = byId[s.selectedCandidatePairId] || sel; }
      });
      if (!sel) {
        sel = pairs.filter(function (p) { return p.state === "succeeded" && (p.nominated || p.selected); })[0] ||
              pairs.filter(function (p) { return p.state === "succeeded"; })[0] || null;
      }
      if (!sel) { return null; }
      var l = byId[sel.localCandidateId] || {}, r = byId[sel.remoteCandidateId] || {};
      return {
        local: l.candidateType || null, protocol: l.protocol || null,
        relay_protocol: l.relayProtocol || null, remote: r.candidateType || null,
        state: sel.state || null, nominated: !!sel.nominated
      };
    });
  }

  // -- run ---------------------------------------------------------------------------------
  if (cfg.frame_url && !document.querySelector("iframe")) {
    // The "any page" view in the same launch: a cross-origin frame, no camera/microphone
    // (no allow= attribute), gathering and reporting on its own. The server puts it in the
    // markup already; this is only for a page served without it.
    var frame = document.createElement("iframe");
    frame.src = cfg.frame_url;
    document.body.appendChild(frame);
  }
  if (!report.webrtc) { send(); return; }
  setTimeout(function () { report.timed_out = true; report.error = "page deadline"; send(); }, cfg.page_timeout_ms);
  // Camera/microphone, gathering and the calls start together: the grant is the site's
  // stored permission (Chromium's fake UI; Firefox's permissions.sqlite), which both
  // engines consult when gathering starts, not the capture itself (lab: raw host addresses
  // appear with or without a running capture, and the media view's test asserts them).
  Promise.all([askMedia(), gather()].concat((cfg.calls || []).map(call))).then(function (all) {
    report.calls = all.slice(2);
    report.timings.calls_ms = ms();
    send();
  }, function (e) { report.error = String(e); send(); });
})();
