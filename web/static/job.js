// Job page: poll the job's status and show its queue position and progress, then the clip.
"use strict";
(function () {
  const box = document.getElementById("job");
  if (!box) { return; }
  const url = box.dataset.statusUrl;
  const title = document.getElementById("job-title");
  const line = document.getElementById("job-line");
  const bar = document.getElementById("job-bar");
  const fill = document.getElementById("job-fill");
  const percent = document.getElementById("job-percent");

  function show(s) {
    fill.style.width = s.percent + "%";
    bar.setAttribute("aria-valuenow", String(s.percent));
    percent.textContent = String(s.percent);
    box.dataset.state = s.state;
    if (s.state === "queued") {
      line.textContent = s.queue_position ? "In the queue: number " + s.queue_position + "." : "In the queue.";
    } else if (s.state === "running") {
      line.textContent = "Swapping faces: " + s.percent + "% done.";
    } else if (s.state === "succeeded") {
      title.textContent = "Your clip is ready";
      line.textContent = "Share it, or download it as a GIF or MP4.";
    } else if (s.state === "failed") {
      title.textContent = "That did not work";
      line.textContent = s.message || "Something went wrong. Please try another GIF or photo.";
    } else {
      title.textContent = "Cancelled";
      line.textContent = "This clip was cancelled.";
    }
  }

  function finish(s) {
    const video = document.getElementById("job-video");
    video.src = s.clip_url;
    video.poster = s.poster_url;
    document.getElementById("share-link").href = s.share_url;
    document.getElementById("job-result").hidden = false;
  }

  function listen() {
    if (!window.EventSource) { tick(); return; }
    const events = new EventSource(url + "/events");
    let ended = false;
    events.onmessage = function (e) {
      const s = JSON.parse(e.data);
      show(s);
      if (s.state !== "queued" && s.state !== "running") {
        ended = true;
        events.close();
        if (s.state === "succeeded") { finish(s); }
      }
    };
    events.onerror = function () {
      events.close();
      if (!ended) { setTimeout(tick, 700); }  // the stream broke: poll instead
    };
  }

  async function tick() {
    let s;
    try {
      const r = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      s = await r.json();
      if (!r.ok) { line.textContent = s.error || "Could not read the job's status."; return; }
    } catch (e) {
      setTimeout(tick, 2000);
      return;
    }
    show(s);
    if (s.state === "succeeded") { finish(s); return; }
    if (s.state === "queued" || s.state === "running") { setTimeout(tick, 700); }
  }
  listen();
})();
