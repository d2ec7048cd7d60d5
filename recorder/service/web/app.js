// The roomtape web page: plain JS, only the service's own API (cookie
// login from POST /v1/login) and hls.js (vendor/hls.min.js, pinned and
// built in by scripts/fetch-js.sh) for the live HLS stream.
'use strict';

const $ = (s) => document.querySelector(s);
const colours = ['#e74c3c', '#3498db', '#2ecc71', '#f39c12', '#9b59b6', '#1abc9c', '#e67e22', '#34495e'];
let selected = null;
let jobs = [];
let timer = null;
let live = null; // {job, hls} while the live stream of a recording plays

async function api(path, opts = {}) {
  opts.credentials = 'same-origin';
  opts.headers = Object.assign({'X-Roomtape-Csrf': '1'}, opts.headers || {});
  const r = await fetch(path, opts);
  if (r.status === 401) {
    showLogin();
    throw new Error('not signed in');
  }
  return r;
}

function showLogin() {
  $('#app').hidden = true;
  $('#login').hidden = false;
  if (timer) { clearInterval(timer); timer = null; }
}

function start() {
  $('#login').hidden = true;
  $('#app').hidden = false;
  refresh();
  if (!timer) timer = setInterval(refresh, 1000);
}

$('#login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await fetch('/v1/login', {
    method: 'POST', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({key: $('#key').value}),
  });
  if (!r.ok) { $('#login-error').textContent = 'That key is not valid.'; return; }
  $('#key').value = '';
  $('#login-error').textContent = '';
  start();
});

function secs(s) {
  s = Math.round(s || 0);
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}

function progressCell(j) {
  const p = j.progress || {};
  const td = document.createElement('td');
  if (j.state === 'recording' && p.lag_s) {
    td.textContent = 'composed ' + secs(p.composed_s) + ', lag ' + p.lag_s.toFixed(1) + ' s';
  } else if ((j.state === 'composing' || j.state === 'uploading') && p.percent) {
    const bar = document.createElement('span');
    bar.className = 'bar';
    const fill = document.createElement('span');
    fill.style.width = Math.min(100, p.percent).toFixed(0) + '%';
    bar.appendChild(fill);
    td.appendChild(bar);
    td.appendChild(document.createTextNode(' ' + p.percent.toFixed(0) + '%'));
  } else if (j.state === 'failed') {
    td.textContent = j.error || 'failed';
  }
  return td;
}

async function refresh() {
  let r;
  try { r = await api('/v1/recordings'); } catch (e) { return; }
  if (!r.ok) { $('#status').textContent = 'API error ' + r.status; return; }
  jobs = (await r.json()).jobs || [];
  $('#status').textContent = 'updated ' + new Date().toLocaleTimeString();
  const body = $('#recordings tbody');
  body.textContent = '';
  for (const j of jobs) {
    const tr = document.createElement('tr');
    tr.dataset.id = j.id;
    tr.dataset.state = j.state;
    if (j.id === selected) tr.className = 'selected';
    const cells = [j.id, (j.room ? j.room.type + ' ' + (j.room.name || '') : ''), j.state,
      String((j.progress || {}).participants || 0), secs((j.progress || {}).recorded_s)];
    cells.forEach((c, i) => {
      const td = document.createElement('td');
      td.textContent = c;
      if (i === 2) td.className = 'state state-' + j.state;
      if (i === 3) td.className = 'present';
      if (i === 4) td.className = 'recorded';
      tr.appendChild(td);
    });
    tr.appendChild(progressCell(j));
    const created = document.createElement('td');
    created.textContent = new Date(j.created_at).toLocaleString();
    tr.appendChild(created);
    tr.addEventListener('click', () => select(j.id));
    body.appendChild(tr);
  }
  $('#empty').hidden = jobs.length > 0;
  if (selected) showDetail();
}

function select(id) {
  selected = id;
  stopLive();
  $('#player').removeAttribute('src');
  $('#player').dataset.job = '';
  refresh();
}

async function showDetail() {
  const j = jobs.find((x) => x.id === selected);
  if (!j) return;
  $('#detail').hidden = false;
  $('#detail-title').textContent = j.id;
  const p = j.progress || {};
  $('#detail-state').textContent = j.state + ' — ' + (p.joined || 0) + ' joined, ' + secs(p.recorded_s) + ' recorded' +
    (j.parts && j.parts.length > 1 ? ', ' + j.parts.length + ' parts (resumed after a restart)' : '');
  const stop = $('#stop');
  stop.hidden = !(j.state === 'queued' || j.state === 'recording') || j.stop_requested;
  stop.onclick = async () => { await api('/v1/recordings/' + j.id + '/stop', {method: 'POST'}); refresh(); };
  drawTimeline(j);
  showStreams(j);
  const hasMP4 = j.state === 'done' && (j.files || []).some((f) => f.name === 'recording.mp4');
  const v = $('#player');
  v.hidden = !hasMP4;
  $('#no-video').hidden = hasMP4;
  if (hasMP4 && v.dataset.job !== j.id) {
    v.dataset.job = j.id;
    v.src = '/v1/recordings/' + j.id + '/files/recording.mp4';
  }
}

// showStreams lists the stream outputs' state and plays the live HLS
// stream while the recording runs.
function showStreams(j) {
  const ul = $('#streams');
  ul.textContent = '';
  for (const s of j.streams || []) {
    const li = document.createElement('li');
    li.dataset.target = s.target;
    li.textContent = s.target + ': ' + (s.connected ? 'up' : 'down') + ', ' + s.packets + ' sent, ' +
      s.dropped + ' dropped, ' + s.reconnects + ' reconnects' + (s.error ? ' — ' + s.error : '');
    ul.appendChild(li);
  }
  const hlsOut = (j.streams || []).find((s) => s.target === 'hls');
  if (j.state !== 'recording' || !hlsOut || !hlsOut.connected) {
    if (live && live.job === j.id && j.state !== 'recording') stopLive();
    if (!live) $('#live-section').hidden = true;
    return;
  }
  if (live && live.job === j.id) return;
  startLive(j.id);
}

// startLive plays a recording's live playlist once it lists a segment;
// after a fatal player error the next refresh starts it again.
async function startLive(id) {
  stopLive();
  live = {job: id, hls: null};
  const src = '/v1/recordings/' + id + '/hls/live.m3u8';
  let ok = false;
  try {
    const r = await api(src);
    ok = r.ok && (await r.text()).includes('.ts');
  } catch (e) { ok = false; }
  if (!live || live.job !== id) return; // deselected meanwhile
  if (!ok) { live = null; return; }
  const v = $('#live');
  $('#live-section').hidden = false;
  if (window.Hls && Hls.isSupported()) {
    // No worker: the page's CSP admits scripts from itself only.
    const hls = new Hls({enableWorker: false, liveSyncDurationCount: 2});
    hls.on(Hls.Events.ERROR, (e, d) => {
      if (!d.fatal) return;
      $('#live-state').textContent = 'live stream: ' + d.type + ' ' + d.details;
      if (live && live.hls === hls) stopLive();
    });
    hls.loadSource(src);
    hls.attachMedia(v);
    live.hls = hls;
  } else if (v.canPlayType('application/vnd.apple.mpegurl')) {
    v.src = src;
  } else {
    $('#live-state').textContent = 'This browser cannot play the live stream (hls.js missing).';
    return;
  }
  $('#live-state').textContent = '';
  v.dataset.job = id;
  v.play().catch(() => {});
}

function stopLive() {
  if (!live) return;
  if (live.hls) live.hls.destroy();
  const v = $('#live');
  v.removeAttribute('src');
  v.load();
  v.dataset.job = '';
  live = null;
  $('#live-section').hidden = true;
}

// drawTimeline draws who was present when: one row per participant, a
// bar per presence interval, on the session clock.
async function drawTimeline(j) {
  const c = $('#timeline');
  let m;
  try {
    const r = await api('/v1/recordings/' + j.id + '/session');
    if (!r.ok) return;
    m = await r.json();
  } catch (e) { return; }
  const people = m.participants || [];
  const rowH = 22, left = 110, top = 8;
  c.height = top + Math.max(1, people.length) * rowH + 24;
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, c.width, c.height);
  let end = m.end_time_s || 0;
  for (const p of people) {
    for (const iv of (p.presence && p.presence.length ? p.presence : [{join_s: p.join_time_s, leave_s: p.leave_time_s}])) {
      end = Math.max(end, iv.leave_s);
    }
  }
  end = Math.max(end, 1);
  const x = (t) => left + (c.width - left - 10) * t / end;
  ctx.font = '12px sans-serif';
  ctx.fillStyle = '#566573';
  const step = end > 120 ? 30 : end > 30 ? 10 : 2;
  for (let t = 0; t <= end; t += step) {
    ctx.fillRect(x(t), top, 1, people.length * rowH);
    ctx.fillText(secs(t), x(t) - 8, top + people.length * rowH + 16);
  }
  let bars = 0;
  people.forEach((p, i) => {
    const y = top + i * rowH;
    ctx.fillStyle = '#1d232b';
    ctx.fillText((p.name || p.id || '?').slice(0, 14), 4, y + 15);
    ctx.fillStyle = colours[i % colours.length];
    const ivs = p.presence && p.presence.length ? p.presence : [{join_s: p.join_time_s, leave_s: p.leave_time_s}];
    for (const iv of ivs) {
      ctx.fillRect(x(iv.join_s), y + 4, Math.max(2, x(iv.leave_s) - x(iv.join_s)), rowH - 8);
      bars++;
    }
  });
  c.dataset.bars = String(bars);
  c.dataset.job = j.id;
}

(async () => {
  const r = await fetch('/v1/recordings', {credentials: 'same-origin'});
  if (r.ok) start(); else showLogin();
})();
