// Draws every chart of the page with uPlot from its <script type="application/json">.
// No inline scripts or handlers (the page's CSP allows only our own files).
(function () {
  "use strict";

  function fmtNumber(v) {
    if (v === null || v === undefined) return "—";
    if (Number.isInteger(v)) return v.toLocaleString("en");
    return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
  }

  function baseOptions(el, spec) {
    var width = Math.max(240, el.clientWidth || 600);
    return {
      width: width,
      height: width < 500 ? 220 : 280,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: {}, y: spec.y_range ? { range: spec.y_range } : {} },
      axes: [
        { label: spec.x_label, labelSize: 24, size: 44 },
        { label: spec.y_label, labelSize: 24, size: 56, values: function (u, vals) {
            return vals.map(fmtNumber); } },
      ],
      series: [{ label: spec.x_label }],
    };
  }

  function timeChart(el, spec) {
    var opts = baseOptions(el, spec);
    opts.scales.x.time = true;
    spec.series.forEach(function (s) {
      opts.series.push({ label: s.label, stroke: s.color, width: 2, spanGaps: false,
                         points: { show: spec.x.length < 60 } });
    });
    return [opts, [spec.x].concat(spec.series.map(function (s) { return s.values; }))];
  }

  function barChart(el, spec) {
    var opts = baseOptions(el, spec);
    var labels = spec.labels;
    opts.scales.x = { time: false, range: [-0.5, Math.max(labels.length - 0.5, 0.5)] };
    opts.scales.y = spec.y_range ? { range: spec.y_range }
      : { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } };
    opts.axes[0].splits = function () { return spec.x; };
    opts.axes[0].values = function (u, splits) {
      return splits.map(function (i) { return labels[i] === undefined ? "" : labels[i]; });
    };
    var longest = labels.reduce(function (n, l) { return Math.max(n, l.length); }, 0);
    if (labels.length * longest * 7 > opts.width * 0.8) {
      opts.axes[0].rotate = -35;
      opts.axes[0].size = Math.min(140, 20 + longest * 5);
    }
    opts.series[0].value = function (u, i) { return i === null ? "" : (labels[i] || ""); };
    var bars = uPlot.paths.bars({ size: [0.6, 64] });
    spec.series.forEach(function (s) {
      opts.series.push({ label: s.label, stroke: s.color, fill: s.color + "99", paths: bars,
                         points: { show: false } });
    });
    return [opts, [spec.x].concat(spec.series.map(function (s) { return s.values; }))];
  }

  function scatterChart(el, spec) {
    var opts = baseOptions(el, spec);
    opts.scales.x = { time: false };
    opts.axes[0].values = function (u, vals) { return vals.map(function (v) { return "$" + fmtNumber(v); }); };
    opts.series[0].value = function (u, v) { return v === null ? "" : "$" + fmtNumber(v); };
    spec.series.forEach(function (s) {
      opts.series.push({ label: s.label, stroke: s.color, fill: s.color, paths: function () { return null; },
                         points: { show: true, size: 10, width: 1, fill: s.color } });
    });
    return [opts, [spec.x].concat(spec.series.map(function (s) { return s.values; }))];
  }

  var builders = { time: timeChart, bars: barChart, scatter: scatterChart };

  function draw(el) {
    var source = document.getElementById(el.dataset.chart);
    if (!source || el.dataset.drawn) return;
    var spec = JSON.parse(source.textContent);
    var build = builders[spec.kind];
    if (!build) return;
    var built = build(el, spec);
    el.dataset.drawn = "true";
    var plot = new uPlot(built[0], built[1], el);
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        var w = Math.max(240, el.clientWidth);
        if (Math.abs(w - plot.width) > 4) plot.setSize({ width: w, height: w < 500 ? 220 : 280 });
      }).observe(el);
    }
  }

  function init() {
    document.querySelectorAll(".chart-canvas[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
