// The results chart of a broadcast: sends, opens and clicks per hour, read
// from the page's JSON block (the same numbers are in a table beside it).
(function () {
  function draw() {
    var canvas = document.getElementById("broadcast-chart");
    var source = document.getElementById("broadcast-chart-data");
    if (!canvas || !source || !window.Chart) return;
    var data;
    try {
      data = JSON.parse(source.textContent);
    } catch (e) {
      return;
    }
    var reduce = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Sent", data: data.sent, borderColor: "#1849a9", backgroundColor: "#1849a9", tension: 0.2 },
          { label: "Opened", data: data.opened, borderColor: "#1f7a3f", backgroundColor: "#1f7a3f", borderDash: [6, 3], tension: 0.2 },
          { label: "Clicked", data: data.clicked, borderColor: "#8a5a00", backgroundColor: "#8a5a00", borderDash: [2, 2], tension: 0.2 }
        ]
      },
      options: {
        animation: reduce ? false : undefined,
        responsive: true,
        interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
