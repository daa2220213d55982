/* The KPI dashboards' charts (ECharts, served from static/vendor): each <div data-chart="code">
   is drawn from the page's JSON (<script type="application/json" id="kpi-charts">, written by
   Django's json_script), never from inline script. Types: "line", "bar", "stack" (stacked bar). */
(function () {
  "use strict";
  var COLOURS = { stack: ["#d63939", "#f59f00", "#2fb344"] };

  function option(spec) {
    var horizontal = spec.type !== "line" && spec.categories.length > 6;
    var cat = { type: "category", data: spec.categories, axisLabel: { interval: 0, hideOverlap: true } };
    var val = { type: "value", name: spec.unit || "", minInterval: spec.unit ? 0 : 1 };
    var opt = {
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: horizontal ? val : cat,
      yAxis: horizontal ? Object.assign({}, cat, { inverse: true }) : val,
      series: spec.series.map(function (s) {
        return { name: s.name, type: spec.type === "line" ? "line" : "bar", data: s.data,
                 stack: spec.type === "stack" ? "total" : undefined, smooth: false };
      })
    };
    if (COLOURS[spec.type]) { opt.color = COLOURS[spec.type]; }
    return opt;
  }

  function draw() {
    var data = document.getElementById("kpi-charts");
    if (!data || !window.echarts) { return; }
    var charts = [];
    JSON.parse(data.textContent).forEach(function (spec) {
      var el = document.querySelector('[data-chart="' + spec.id + '"]');
      if (!el) { return; }
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(option(spec));
      charts.push(chart);
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
