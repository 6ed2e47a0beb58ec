// ListingFlow's one script: a job page's progress bar follows the job over Server-Sent Events.
// Pages work without it (a running job's page refreshes itself instead).
(function () {
  "use strict";
  var box = document.querySelector("[data-job-events]");
  if (!box || !window.EventSource) return;
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-job-text]");
  var status = document.querySelector("[data-job-status]");
  var source = new EventSource(box.getAttribute("data-job-events"));
  function show(event) {
    var job = JSON.parse(event.data);
    bar.max = job.total || 1;
    bar.value = job.processed;
    bar.textContent = Math.round(job.progress * 100) + "%";
    box.setAttribute("data-progress", String(Math.round(job.progress * 100)));
    text.textContent = job.processed + " / " + job.total + " · " + job.succeeded + " done · " + job.failed + " failed";
    if (status) { status.textContent = job.status; status.className = "badge " + job.status; }
  }
  source.addEventListener("progress", show);
  source.addEventListener("done", function (event) {
    show(event);
    source.close();
    // The finished page lists the failed items and offers retry.
    setTimeout(function () { window.location.reload(); }, 800);
  });
})();
