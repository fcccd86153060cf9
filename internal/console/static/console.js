// iotdm console: charts (uPlot), live updates (server-sent events) and a
// few conveniences. Pages work without it, except for charts and live data.
(function () {
  'use strict';

  var colors = ['#1f6feb', '#7c3aed', '#0f766e', '#be123c', '#9a3412', '#4d7c0f'];
  var charts = [];

  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function fmtTime(d) {
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds()) + ' UTC';
  }
  function fmtNum(v) {
    if (v === null || v === undefined) return '—';
    return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toLocaleString('en-US', { maximumFractionDigits: 3 });
  }

  // Selects that submit their form when changed (the form keeps a button
  // for keyboard and no-script use).
  document.querySelectorAll('select[data-autosubmit]').forEach(function (s) {
    s.addEventListener('change', function () {
      if (s.form.requestSubmit) s.form.requestSubmit(); else s.form.submit();
    });
  });
  // Destructive forms ask first.
  document.querySelectorAll('form[data-confirm]').forEach(function (f) {
    f.addEventListener('submit', function (e) {
      if (!window.confirm(f.getAttribute('data-confirm'))) e.preventDefault();
    });
  });

  // --- charts ---

  function Chart(fig) {
    this.fig = fig;
    this.spec = JSON.parse(fig.getAttribute('data-chart'));
    this.plotEl = fig.querySelector('.chart-plot');
    this.statusEl = fig.querySelector('.chart-status');
    this.tableEl = fig.querySelector('.chart-table');
    this.plot = null;
    this.labels = [];
    this.data = null;
    this.liveIndex = -1;
    fig.chart = this;
    charts.push(this);
    this.load();
  }

  Chart.prototype.status = function (text) {
    this.statusEl.textContent = text;
    this.fig.setAttribute('data-state', text ? 'status' : 'drawn');
  };

  Chart.prototype.load = function () {
    var self = this;
    var series = this.spec.series || [];
    Promise.all(series.map(function (s) {
      return fetch(s.src, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) { return r.json(); });
    })).then(function (results) {
      self.build(results);
    }).catch(function (err) {
      self.status('Chart data could not be loaded: ' + err);
    });
  };

  // build merges the series on one time axis, with null where a series has
  // no value, and draws them.
  Chart.prototype.build = function (results) {
    var spec = this.spec, times = {}, start = Infinity, end = -Infinity, errors = [], points = 0;
    results.forEach(function (r) {
      if (r.error) errors.push(r.error);
      if (r.start < start) start = r.start;
      if (r.end > end) end = r.end;
      (r.t || []).forEach(function (t) { times[t] = true; });
      points += (r.t || []).length;
    });
    if (isFinite(start)) { times[start] = true; times[end] = true; }
    var xs = Object.keys(times).map(Number).sort(function (a, b) { return a - b; });
    var data = [xs];
    var labels = [];
    results.forEach(function (r, i) {
      var byT = {};
      (r.t || []).forEach(function (t, k) { byT[t] = r.v[k]; });
      data.push(xs.map(function (t) { return t in byT ? byT[t] : null; }));
      labels.push(spec.series[i].label + (r.unit && r.unit !== 'None' ? ' [' + r.unit + ']' : ''));
    });
    if (spec.threshold !== undefined && spec.threshold !== null) {
      data.push(xs.map(function () { return spec.threshold; }));
      labels.push('threshold');
    }
    if (spec.live) {
      this.liveIndex = data.length;
      data.push(xs.map(function () { return null; }));
      labels.push('live (fleet index)');
    }
    this.data = data;
    this.labels = labels;
    this.draw();
    if (errors.length) this.status(errors.join(' '));
    else if (!points) this.status('No data points in this time range yet.');
    else this.status('');
  };

  Chart.prototype.options = function () {
    var spec = this.spec, width = Math.max(240, this.plotEl.clientWidth || this.fig.clientWidth || 480);
    var series = [{ label: 'Time', value: function (u, v) { return v === null ? '—' : fmtTime(new Date(v * 1000)); } }];
    var self = this;
    this.labels.forEach(function (label, i) {
      var s = { label: label, stroke: colors[i % colors.length], width: 2, spanGaps: true, points: { show: true, size: 5 },
        value: function (u, v) { return fmtNum(v); } };
      if (label === 'threshold') { s.stroke = '#c81e1e'; s.dash = [6, 4]; s.points = { show: false }; s.width = 1.5; }
      if (i + 1 === self.liveIndex) { s.stroke = '#b45309'; s.dash = [4, 3]; }
      series.push(s);
    });
    return {
      width: width,
      height: width < 500 ? 200 : 240,
      series: series,
      scales: { x: { time: true }, y: { range: function (u, min, max) {
        if (min === null || max === null) return [0, 1];
        var lo = Math.min(0, min), hi = max === lo ? lo + 1 : max * 1.1;
        return [lo, hi];
      } } },
      axes: [{ stroke: '#525c6b' }, { stroke: '#525c6b', size: 56 }],
      legend: { show: true, live: true },
      cursor: { focus: { prox: 16 } }
    };
  };

  Chart.prototype.draw = function () {
    if (typeof uPlot === 'undefined') { this.status('The chart library did not load.'); return; }
    if (this.plot) { this.plot.destroy(); }
    this.plotEl.textContent = '';
    this.plot = new uPlot(this.options(), this.data, this.plotEl);
    this.table();
  };

  // table fills the accessible data table under the chart.
  Chart.prototype.table = function () {
    var data = this.data, labels = this.labels;
    var t = document.createElement('table');
    var head = document.createElement('tr');
    ['Time (UTC)'].concat(labels).forEach(function (l) {
      var th = document.createElement('th'); th.scope = 'col'; th.textContent = l; head.appendChild(th);
    });
    var thead = document.createElement('thead'); thead.appendChild(head); t.appendChild(thead);
    var tbody = document.createElement('tbody');
    for (var k = data[0].length - 1, rows = 0; k >= 0 && rows < 500; k--) {
      var has = false;
      for (var j = 1; j < data.length; j++) if (data[j][k] !== null && labels[j - 1] !== 'threshold') has = true;
      if (!has) continue;
      rows++;
      var tr = document.createElement('tr');
      var th = document.createElement('th'); th.scope = 'row'; th.textContent = fmtTime(new Date(data[0][k] * 1000)); tr.appendChild(th);
      for (j = 1; j < data.length; j++) {
        var td = document.createElement('td'); td.textContent = fmtNum(data[j][k]); tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    t.appendChild(tbody);
    this.tableEl.textContent = '';
    this.tableEl.appendChild(t);
  };

  // live adds a point of the live series at now.
  Chart.prototype.live = function (value) {
    if (!this.plot || this.liveIndex < 0) return;
    var now = Math.floor(Date.now() / 1000), data = this.data;
    var last = data[0].length - 1;
    if (data[0][last] >= now) {
      data[this.liveIndex][last] = value;
    } else {
      data[0].push(now);
      for (var j = 1; j < data.length; j++) {
        var v = null;
        if (j === this.liveIndex) v = value;
        else if (this.labels[j - 1] === 'threshold') v = this.spec.threshold;
        data[j].push(v);
      }
    }
    this.plot.setData(data);
    this.fig.setAttribute('data-live-value', String(value));
    this.status('');
    this.table();
  };

  document.querySelectorAll('figure[data-chart]').forEach(function (fig) { new Chart(fig); });
  if (window.ResizeObserver) {
    var ro = new ResizeObserver(function () {
      charts.forEach(function (c) {
        if (!c.plot) return;
        var w = Math.max(240, c.plotEl.clientWidth);
        if (Math.abs(w - c.plot.width) > 4) c.plot.setSize({ width: w, height: w < 500 ? 200 : 240 });
      });
    });
    charts.forEach(function (c) { ro.observe(c.fig); });
  }

  // --- live updates ---

  var streamEl = document.querySelector('[data-live-stream]');
  if (streamEl && window.EventSource) {
    var statusEl = document.querySelector('[data-live-status]');
    var list = document.querySelector('[data-events]');
    var setStatus = function (text, on) {
      if (!statusEl) return;
      statusEl.textContent = text;
      statusEl.classList.toggle('on', !!on);
    };
    var es = new EventSource(streamEl.getAttribute('data-live-stream'));
    es.onopen = function () { setStatus('Live', true); };
    es.onerror = function () { setStatus('Live updates interrupted; reconnecting…', false); };
    var addEvent = function (li) {
      if (!list) return;
      var empty = list.querySelector('[data-empty]');
      if (empty) empty.remove();
      li.classList.add('fresh');
      list.insertBefore(li, list.firstChild);
      while (list.children.length > 60) list.removeChild(list.lastChild);
    };
    es.addEventListener('change', function (e) {
      var ev = JSON.parse(e.data);
      var li = document.createElement('li');
      li.className = 'ev ev-' + ev.category;
      var time = document.createElement('time');
      time.dateTime = ev.time;
      time.textContent = fmtTime(new Date(ev.time));
      var cat = document.createElement('span');
      cat.className = 'ev-cat';
      cat.textContent = ev.category;
      li.appendChild(time); li.appendChild(document.createTextNode(' ')); li.appendChild(cat); li.appendChild(document.createTextNode(' '));
      if (ev.href) {
        var a = document.createElement('a'); a.href = ev.href; a.textContent = ev.text; li.appendChild(a);
      } else {
        li.appendChild(document.createTextNode(ev.text));
      }
      addEvent(li);
    });
    es.addEventListener('skipped', function (e) {
      var n = JSON.parse(e.data).n;
      var li = document.createElement('li');
      li.className = 'ev muted';
      li.textContent = n + ' more changes arrived too fast to list.';
      addEvent(li);
    });
    es.addEventListener('counts', function (e) {
      var c = JSON.parse(e.data);
      var set = function (key, v) {
        if (v === undefined || v === null) return;
        document.querySelectorAll('[data-count="' + key + '"]').forEach(function (el) { el.textContent = fmtNum(v); });
      };
      set('things', c.things);
      set('connected', c.connected);
      if (c.alarms) Object.keys(c.alarms).forEach(function (s) { set('alarm-' + s, c.alarms[s]); });
      if (c.groups) Object.keys(c.groups).forEach(function (g) {
        document.querySelectorAll('[data-group-count]').forEach(function (el) {
          if (el.getAttribute('data-group-count') === g) el.textContent = fmtNum(c.groups[g]);
        });
      });
      if (c.connected !== undefined) {
        charts.forEach(function (ch) { if (ch.spec.live === 'connected') ch.live(c.connected); });
      }
    });
    window.addEventListener('pagehide', function () { es.close(); });
  }
})();
