/**
 * The page's script, inline (the page carries it with a nonce): plain DOM, no framework, no
 * build step. Every value from the server is put in the page with `textContent` or an attribute,
 * never as HTML: job names, errors and instance ids are user data.
 */
export const DASHBOARD_SCRIPT = String.raw`
(function () {
  'use strict';
  var base = location.pathname.replace(/\/+$/, '');
  var csrf = document.querySelector('meta[name="metronome-csrf"]').getAttribute('content');
  var historyLimit = Number(document.body.getAttribute('data-history-limit')) || 20;
  var jobs = new Map();
  var rows = new Map();
  var selected = null;
  var runs = [];
  var instances = [];
  var filterText = '';
  var reloadTimer = null;

  function byId(id) { return document.getElementById(id); }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function request(method, path) {
    var headers = { accept: 'application/json' };
    if (method === 'POST') headers['x-metronome-csrf'] = csrf;
    return fetch(base + '/api' + path, { method: method, headers: headers, credentials: 'same-origin' }).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!response.ok) {
          var error = new Error((body && body.message) || response.status + ' ' + response.statusText);
          error.status = response.status;
          throw error;
        }
        return body;
      });
    });
  }
  function jobPath(name) { return '/jobs/' + encodeURIComponent(name); }

  function relative(iso) {
    if (!iso) return '—';
    var ms = Date.parse(iso) - Date.now();
    var s = Math.round(Math.abs(ms) / 1000);
    if (s < 1) return 'now';
    var text = s < 60 ? s + ' s' : s < 3600 ? Math.round(s / 60) + ' min' : s < 86400 ? Math.round(s / 3600) + ' h' : Math.round(s / 86400) + ' d';
    return ms > 0 ? 'in ' + text : text + ' ago';
  }
  function absolute(iso) { return iso ? new Date(iso).toLocaleString() : ''; }
  function duration(ms) {
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
    return Math.floor(ms / 60000) + ' min ' + Math.round((ms % 60000) / 1000) + ' s';
  }
  function time(iso) {
    var node = el('time', 'rel', relative(iso));
    if (iso) { node.setAttribute('data-at', iso); node.setAttribute('datetime', iso); node.title = absolute(iso); }
    return node;
  }
  function badge(kind, text) { return el('span', 'badge badge-' + kind, text); }
  var OUTCOME = { succeeded: 'Succeeded', failed: 'Failed', 'timed-out': 'Timed out' };

  function toast(text, isError) {
    var box = byId('toast');
    box.textContent = text;
    box.className = 'toast show' + (isError ? ' error' : '');
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { box.className = 'toast'; }, 3500);
  }

  function act(name, action) {
    if (action === 'remove' && !window.confirm('Remove the job "' + name + '"? It stops running on every instance that shares it.')) return;
    request('POST', jobPath(name) + '/' + action).then(function (body) {
      if (body && body.job) upsert(body.job);
      if (action === 'remove') drop(name);
      var done = { pause: 'Paused', resume: 'Resumed', trigger: 'Started', remove: 'Removed' }[action];
      toast(done + ' ' + name);
    }, function (error) { toast('Could not ' + (action === 'trigger' ? 'run' : action) + ' ' + name + ': ' + error.message, true); });
  }

  function button(label, className, name, action) {
    var node = el('button', 'btn ' + className, label);
    node.type = 'button';
    node.setAttribute('data-action', action);
    node.addEventListener('click', function (event) { event.stopPropagation(); act(name, action); });
    return node;
  }

  function statusOf(job) {
    if (job.completed) return badge('muted', 'Completed');
    if (job.paused) return badge('paused', 'Paused');
    if (job.running > 0) return badge('running', job.running > 1 ? job.running + ' running' : 'Running');
    return badge('active', 'Active');
  }

  function fillRow(row, job) {
    clear(row);
    row.classList.toggle('is-paused', job.paused);
    row.classList.toggle('is-selected', selected === job.name);
    var name = el('td', 'name');
    name.appendChild(el('div', 'job-name', job.name));
    if (job.target) name.appendChild(el('div', 'sub mono', job.target));
    row.appendChild(name);
    var trigger = el('td', 'trigger');
    trigger.appendChild(el('div', null, job.trigger.summary));
    trigger.appendChild(el('div', 'sub mono', job.trigger.detail));
    row.appendChild(trigger);
    var next = el('td', 'next');
    next.appendChild(job.nextRunAt ? time(job.nextRunAt) : el('span', 'sub', '—'));
    row.appendChild(next);
    var last = el('td', 'last');
    if (job.lastOutcome) {
      last.appendChild(badge(job.lastOutcome, OUTCOME[job.lastOutcome] || job.lastOutcome));
      last.appendChild(document.createTextNode(' '));
      last.appendChild(time(job.lastRunAt));
    } else last.appendChild(el('span', 'sub', 'Never run'));
    row.appendChild(last);
    row.appendChild(el('td', 'num runs', job.runs));
    var status = el('td', 'status');
    status.appendChild(statusOf(job));
    row.appendChild(status);
    var actions = el('td', 'actions');
    if (!job.completed) actions.appendChild(job.paused ? button('Resume', 'btn-primary', job.name, 'resume') : button('Pause', '', job.name, 'pause'));
    actions.appendChild(button('Run now', '', job.name, 'trigger'));
    if (job.removable) actions.appendChild(button('Remove', 'btn-danger', job.name, 'remove'));
    row.appendChild(actions);
  }

  function visible(name) { return filterText === '' || name.toLowerCase().indexOf(filterText) >= 0; }

  function order() {
    var body = byId('jobs-body');
    var names = Array.from(jobs.keys()).sort();
    var shown = 0;
    names.forEach(function (name) {
      var row = rows.get(name);
      row.hidden = !visible(name);
      if (!row.hidden) shown++;
      body.appendChild(row);
    });
    byId('jobs-empty').hidden = shown > 0;
    byId('jobs-empty').textContent = jobs.size === 0 ? 'No jobs are scheduled.' : 'No job matches the filter.';
    summary();
  }

  function upsert(job) {
    var row = rows.get(job.name);
    var isNew = !row;
    if (isNew) {
      var name = job.name;
      row = el('tr', 'job');
      row.addEventListener('click', function () { select(name === selected ? null : name); });
      rows.set(name, row);
    }
    jobs.set(job.name, job);
    fillRow(row, job);
    if (isNew) order(); else summary();
  }

  function drop(name) {
    var row = rows.get(name);
    if (row && row.parentNode) row.parentNode.removeChild(row);
    rows.delete(name);
    jobs.delete(name);
    if (selected === name) select(null);
    order();
  }

  function summary() {
    var running = 0, paused = 0, failing = 0;
    jobs.forEach(function (job) {
      running += job.running;
      if (job.paused) paused++;
      if (job.lastOutcome === 'failed' || job.lastOutcome === 'timed-out') failing++;
    });
    byId('count-jobs').textContent = String(jobs.size);
    byId('count-running').textContent = String(running);
    byId('count-paused').textContent = String(paused);
    byId('count-failing').textContent = String(failing);
    byId('card-failing').classList.toggle('alert', failing > 0);
    byId('count-instances').textContent = String(instances.length || 1);
  }

  function renderRuns() {
    var body = byId('runs-body');
    clear(body);
    byId('runs-title').textContent = selected === null ? 'Recent runs' : 'Runs of ' + selected;
    byId('runs-all').hidden = selected === null;
    runs.forEach(function (run) {
      var row = el('tr', 'run run-' + run.outcome);
      var started = el('td', 'started');
      started.appendChild(time(run.startedAt));
      row.appendChild(started);
      row.appendChild(el('td', 'job-name', run.job));
      var outcome = el('td', 'outcome');
      outcome.appendChild(badge(run.outcome, OUTCOME[run.outcome] || run.outcome));
      row.appendChild(outcome);
      row.appendChild(el('td', 'num', duration(run.durationMs)));
      row.appendChild(el('td', 'num', run.attempt));
      row.appendChild(el('td', 'mono sub instance', run.instance));
      var error = el('td', 'error mono', run.error || '');
      if (run.error) error.title = run.error;
      row.appendChild(error);
      body.appendChild(row);
    });
    byId('runs-empty').hidden = runs.length > 0;
  }

  function setRuns(entries) {
    runs = entries.slice(0, historyLimit);
    renderRuns();
  }

  function select(name) {
    selected = name;
    rows.forEach(function (row, key) { row.classList.toggle('is-selected', key === name); });
    if (name === null) request('GET', '/runs?limit=' + historyLimit).then(setRuns, function () {});
    else request('GET', jobPath(name)).then(function (job) { upsert(job); if (selected === job.name) setRuns(job.history); }, function () {});
    renderRuns();
  }

  function refresh(name) {
    request('GET', jobPath(name)).then(function (job) {
      upsert(job);
      if (selected === name) setRuns(job.history);
    }, function (error) { if (error.status === 404) drop(name); });
  }

  function loadJobs() {
    return request('GET', '/jobs').then(function (list) {
      var seen = new Set();
      list.forEach(function (job) { seen.add(job.name); upsert(job); });
      Array.from(jobs.keys()).forEach(function (name) { if (!seen.has(name)) drop(name); });
      order();
      byId('updated').textContent = 'Updated ' + new Date().toLocaleTimeString();
    });
  }

  function reloadSoon() {
    if (reloadTimer) return;
    reloadTimer = setTimeout(function () { reloadTimer = null; loadJobs().catch(function () {}); }, 1000);
  }

  function renderInstances() {
    var body = byId('instances-body');
    clear(body);
    instances.forEach(function (instance) {
      var row = el('tr');
      var id = el('td');
      id.appendChild(el('div', 'mono', instance.id));
      id.appendChild(el('div', 'sub', instance.host + ' · pid ' + instance.pid));
      row.appendChild(id);
      var started = el('td');
      started.appendChild(time(instance.startedAt));
      row.appendChild(started);
      var seen = el('td');
      seen.appendChild(time(instance.lastCheckIn));
      row.appendChild(seen);
      var running = el('td', 'num', instance.running);
      if (instance.runningJobs.length) running.title = instance.runningJobs.join(', ');
      row.appendChild(running);
      body.appendChild(row);
    });
    summary();
  }

  function loadInstances() {
    request('GET', '/instances').then(function (list) { instances = list; renderInstances(); byId('instances-error').hidden = true; }, function (error) {
      byId('instances-error').hidden = false;
      byId('instances-error').textContent = error.message;
    });
  }

  function live(state) {
    var node = byId('live');
    node.className = 'live ' + state;
    node.lastChild.textContent = state === 'on' ? 'Live' : state === 'off' ? 'Reconnecting…' : 'Connecting…';
  }

  function connect() {
    var source = new EventSource(base + '/api/events');
    var dropped = false;
    source.addEventListener('open', function () {
      live('on');
      if (dropped) { loadJobs().catch(function () {}); select(selected); }
    });
    source.addEventListener('error', function () { dropped = true; live('off'); });
    source.addEventListener('jobs', function (event) {
      var message = JSON.parse(event.data);
      if (message.all || message.names.length > 10) reloadSoon();
      else message.names.forEach(refresh);
    });
    source.addEventListener('runs', function (event) {
      var message = JSON.parse(event.data);
      // A run made on any instance is its job's last run, if newer than the one shown.
      message.entries.forEach(function (run) {
        var job = jobs.get(run.job);
        if (job && (!job.lastRunAt || Date.parse(run.startedAt) > Date.parse(job.lastRunAt))) {
          job.lastRunAt = run.startedAt;
          job.lastOutcome = run.outcome;
          upsert(job);
        }
      });
      var fresh = message.entries.filter(function (run) { return selected === null || run.job === selected; }).reverse();
      if (fresh.length) setRuns(fresh.concat(runs));
    });
  }

  byId('filter').addEventListener('input', function (event) { filterText = event.target.value.trim().toLowerCase(); order(); });
  byId('runs-all').addEventListener('click', function () { select(null); });
  setInterval(function () {
    document.querySelectorAll('time[data-at]').forEach(function (node) { node.textContent = relative(node.getAttribute('data-at')); });
  }, 1000);
  setInterval(loadInstances, 5000);
  loadJobs().then(function () { select(null); }, function (error) { toast('Could not load the jobs: ' + error.message, true); });
  loadInstances();
  connect();
})();
`;
