(function () {
  "use strict";
  var t0 = performance.now();
  var root = document.documentElement;
  var PAGE = JSON.parse(document.getElementById("rnngrad-charts").textContent);
  var study = document.getElementById("explore").getAttribute("data-study");
  function fail(err) {
    root.setAttribute("data-interactive", "error");
    document.getElementById("explore-count").textContent = "The interactive charts failed: " + err;
    throw err;
  }

  // the data: gzip-compressed JSON in base64, unpacked by the browser itself
  function unpack() {
    var bin = atob(document.getElementById("rnngrad-data").textContent.trim());
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse);
  }
  window.rnngrad = { ready: unpack().then(start, fail) };

  function start(DATA) {
    var meta = DATA.meta;

    // column-wise tables: a list, {"const": v} or {"dict": [...], "codes": [...]} per column
    function decode(t) {
      var names = Object.keys(t.columns), cols = {};
      names.forEach(function (k) {
        var c = t.columns[k];
        if (Array.isArray(c)) { cols[k] = c; return; }
        if (Object.prototype.hasOwnProperty.call(c, "const")) {
          cols[k] = new Array(t.n).fill(c["const"]);
          return;
        }
        cols[k] = c.codes.map(function (i) { return i < 0 ? null : c.dict[i]; });
      });
      return { n: t.n, names: names, cols: cols };
    }
    function toRows(t) {
      var out = new Array(t.n);
      for (var i = 0; i < t.n; i++) {
        var o = {};
        for (var j = 0; j < t.names.length; j++) { o[t.names[j]] = t.cols[t.names[j]][i]; }
        out[i] = o;
      }
      return out;
    }
    var tables = { cells: decode(DATA.cells), profiles: decode(DATA.profiles), training: decode(DATA.training) };
    var cells = toRows(tables.cells);
    cells.forEach(function (c, i) { c.cell = i; });
    var profiles = toRows(tables.profiles), training = toRows(tables.training);
    function byCell(rows) {
      var out = {};
      rows.forEach(function (r) { (out[r.cell] = out[r.cell] || []).push(r); });
      return out;
    }
    var profilesOf = byCell(profiles), trainingOf = byCell(training);

    // decay curves: init profiles relative to lag 0, with the cell's settings for the tooltip
    var carried = ["cell_id", "status", "init_decay_rate"].concat(meta.axes);
    var first = {};
    profiles.forEach(function (r) { if (r.phase === "init" && r.lag === 0) { first[r.cell] = r.grad_norm; } });
    var decay = [];
    profiles.forEach(function (r) {
      if (r.phase !== "init") { return; }
      var rel = r.grad_norm / first[r.cell];
      if (!(rel > 0) || !isFinite(rel)) { return; }
      var o = { cell: r.cell, lag: r.lag, relative: rel }, c = cells[r.cell];
      carried.forEach(function (k) { o[k] = c[k]; });
      decay.push(o);
    });
    var sources = { cells: cells, decay: decay };

    // selectors: one per grid axis
    var filters = document.getElementById("explore-filters");
    var chosen = {};
    meta.axes.forEach(function (axis) {
      var label = document.createElement("label");
      var select = document.createElement("select");
      select.setAttribute("data-axis", axis);
      ["all"].concat(meta.values[axis]).forEach(function (v) {
        var opt = document.createElement("option");
        opt.value = String(v);
        opt.textContent = String(v);
        select.appendChild(opt);
      });
      select.value = String(meta.defaults[axis]);
      chosen[axis] = select.value;
      select.addEventListener("change", function () {
        chosen[axis] = select.value;
        root.setAttribute("data-interactive", "drawing");
        apply().then(function () { root.setAttribute("data-interactive", "ready"); });
      });
      label.appendChild(document.createTextNode(axis + " "));
      label.appendChild(select);
      filters.appendChild(label);
    });
    function shown(c) {
      return meta.axes.every(function (a) { return chosen[a] === "all" || String(c[a]) === chosen[a]; });
    }

    var views = {}, charts = PAGE.charts;
    function withData(spec, name, rows) {
      var out = Object.assign({}, spec), sets = {};
      sets[name] = rows;
      out.datasets = Object.assign({}, spec.datasets || {}, sets);
      return out;
    }
    function embed(el, spec, renderer) {
      return vegaEmbed(el, spec, Object.assign({ renderer: renderer }, PAGE.embed)).then(function (r) { return r.view; });
    }
    // a chart is drawn anew with its rows in its spec (a facet's layout follows its data)
    function draw(ch, ok) {
      var rows = sources[ch.data].filter(function (r) { return ok[r.cell]; });
      if (views[ch.name]) { views[ch.name].finalize(); }
      var el = document.getElementById("chart-" + ch.name);
      return embed(el, withData(ch.spec, ch.data, rows), ch.name === "decay_curves" ? "canvas" : "svg").then(function (view) {
        views[ch.name] = view;
        view.addEventListener("click", function (event, item) {
          var d = item && item.datum;
          if (d && typeof d.cell === "number") { show(d.cell, ch.value); }
        });
      });
    }
    function apply() {
      var ok = cells.map(shown);
      var n = ok.filter(Boolean).length;
      document.getElementById("explore-count").textContent = n + " of " + cells.length + " cells shown";
      return Promise.all(charts.map(function (ch) { return draw(ch, ok); }));
    }

    // a clicked tile or point: its cell's settings, value, profile and training curve
    var detail = document.getElementById("cell-detail");
    var detailViews = {};
    function text(v) {
      if (v === null || v === undefined) { return ""; }
      if (v === Infinity) { return "inf"; }
      if (v === -Infinity) { return "-inf"; }
      return String(v);
    }
    var SHOWN = ["status", "steps", "init_log10_grad_ratio", "init_decay_rate", "init_lyapunov_max",
      "trained_decay_rate", "accuracy", "normalized_loss", "solved", "steps_to_solve"];
    function show(i, column) {
      var c = cells[i];
      detail.setAttribute("data-cell-id", c.cell_id);
      detail.setAttribute("data-value-column", column);
      detail.setAttribute("data-value", text(c[column]));
      if (c.study !== undefined) { detail.setAttribute("data-study", c.study); }
      document.getElementById("detail-cell").textContent = (c.study !== undefined ? c.study + ": " : "") + c.cell_id;
      document.getElementById("detail-value").textContent = column + " = " + text(c[column]);
      var table = document.getElementById("detail-settings");
      table.textContent = "";
      meta.axes.concat(SHOWN.filter(function (k) { return k in c && meta.axes.indexOf(k) < 0; })).forEach(function (k) {
        var tr = table.insertRow(), th = document.createElement("th");
        th.textContent = k;
        tr.appendChild(th);
        tr.insertCell().textContent = text(c[k]);
      });
      var p = (profilesOf[i] || []).filter(function (r) { return r.grad_norm > 0; });
      var t = trainingOf[i] || [];
      document.getElementById("detail-empty").hidden = p.length + t.length > 0;
      return Promise.all([
        drawDetail("profile", "detail_profile", p),
        drawDetail("training", "detail_training", t)
      ]).then(function () { detail.setAttribute("data-shown", String(i)); });
    }
    function drawDetail(key, name, rows) {
      if (detailViews[key]) { detailViews[key].finalize(); }
      return embed("#detail-" + key, withData(PAGE.detail[key], name, rows), "svg").then(function (v) { detailViews[key] = v; });
    }

    function csvField(v) {
      if (v === true) { return "True"; }
      if (v === false) { return "False"; }
      var s = text(v);
      return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    }
    // a table as CSV: the cells as they are; profiles and training with their cell's id again
    function csv(name) {
      var t = tables[name], names = t.names, lines = [];
      var keys = name === "cells" ? [] : (tables.cells.cols.study ? ["study", "cell_id"] : ["cell_id"]);
      var cols = names.filter(function (k) { return name === "cells" || k !== "cell"; });
      lines.push(keys.concat(cols).map(csvField).join(","));
      for (var i = 0; i < t.n; i++) {
        var row = [];
        if (keys.length) {
          var c = cells[t.cols.cell[i]];
          keys.forEach(function (k) { row.push(csvField(c[k])); });
        }
        cols.forEach(function (k) { row.push(csvField(t.cols[k][i])); });
        lines.push(row.join(","));
      }
      return lines.join("\n") + "\n";
    }
    Array.prototype.forEach.call(document.querySelectorAll("#explore button[data-table]"), function (b) {
      b.addEventListener("click", function () {
        var url = URL.createObjectURL(new Blob([csv(b.getAttribute("data-table"))], { type: "text/csv" }));
        var a = document.createElement("a");
        a.href = url;
        a.download = study + "-" + b.getAttribute("data-table") + ".csv";
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
      });
    });

    Object.assign(window.rnngrad, { csv: csv, show: show, views: views });
    return apply().then(function () {
      root.setAttribute("data-interactive-ms", String(Math.round(performance.now() - t0)));
      root.setAttribute("data-interactive", "ready");
    }, fail);
  }
})();
