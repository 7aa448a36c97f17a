'use strict';
// The PocketTTS web page: plain JavaScript, no build step. The API key lives in sessionStorage
// (this tab only) and is sent only to this server.

const KEY = 'pockettts.apiKey';
const MIME = {
  mp3: 'audio/mpeg', wav: 'audio/wav', ogg: 'audio/ogg', opus: 'audio/ogg', aac: 'audio/aac',
  flac: 'audio/flac',
};
const $ = (id) => document.getElementById(id);
const run = { controller: null, audioContext: null, url: null };

function apiKey() {
  return sessionStorage.getItem(KEY) || '';
}

function authHeaders() {
  return { Authorization: 'Bearer ' + apiKey() };
}

function showKeyState() {
  const has = apiKey() !== '';
  $('key-form').hidden = has;
  $('key-set').hidden = !has;
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = !message;
  if (message) {
    setPhase('error', '');
  }
}

function setPhase(phase, message) {
  $('status').dataset.phase = phase;
  $('status').textContent = message;
}

/** What went wrong, from a problem document, an OpenAI error body, or the status alone. */
async function describeFailure(response) {
  let detail = '';
  try {
    const body = await response.json();
    detail = body.detail || (body.error && body.error.message) || body.title || '';
  } catch (e) {
    // not JSON
  }
  if (response.status === 401) {
    return 'The server refused the API key (401). Forget the key and enter the right one.'
        + (detail ? ' ' + detail : '');
  }
  return 'Error ' + response.status + ': ' + (detail || response.statusText);
}

async function loadHealth() {
  const health = $('health');
  try {
    const h = await (await fetch('/health')).json();
    if (h.status === 'ok') {
      health.textContent = 'Ready: ' + h.voices.length + ' built-in voices'
          + (h.cloning_available ? ', cloning available' : ', cloning unavailable');
    } else if (h.status === 'loading') {
      health.textContent = 'Loading the model (' + h.model_state
          + (h.download ? ', ' + h.download.percent + '%' : '') + ')';
    } else {
      health.textContent = 'The model failed to load: ' + (h.error || 'unknown error');
    }
    health.dataset.status = h.status;
    showModels(h.models || []);
    return h;
  } catch (e) {
    health.textContent = 'The server cannot be reached';
    health.dataset.status = 'error';
    return null;
  }
}

/** A model choice only when the server has loaded more than one bundle. */
function showModels(models) {
  const select = $('model');
  const names = models.map((m) => m.name);
  if (names.join() !== [...select.options].map((o) => o.value).join()) {
    const current = select.value;
    select.replaceChildren(...models.map((m) => new Option(m.name + ' (' + m.language + ')', m.name)));
    if (names.includes(current)) {
      select.value = current;
    }
  }
  $('model-choice').hidden = models.length < 2;
}

/** The chosen bundle, or '' for the server's default. */
function chosenModel() {
  return $('model-choice').hidden ? '' : $('model').value;
}

async function loadVoices() {
  let voices = null;
  if (apiKey()) {
    const r = await fetch('/voices', { headers: authHeaders() });
    if (r.ok) {
      voices = (await r.json()).voices;
    } else if (r.status === 401) {
      showError(await describeFailure(r));
    }
  }
  if (voices === null) {
    const h = await loadHealth();
    voices = ((h && h.voices) || []).map((id) => ({ id: id, source: 'built-in' }));
  }
  const model = chosenModel();
  const usable = voices.filter((v) => !model || !v.bundle || v.bundle === model);
  const select = $('voice');
  const current = select.value || 'alba';
  select.replaceChildren(...usable.map((v) =>
    new Option(v.source === 'built-in' ? v.id : v.id + ' (' + v.source + ')', v.id)));
  if (usable.some((v) => v.id === current)) {
    select.value = current;
  }
  $('voice-list').replaceChildren(...voices.map((v) => {
    const li = document.createElement('li');
    li.textContent = v.id + ': ' + v.source + (v.language ? ', ' + v.language : '')
        + (v.created ? ', saved ' + v.created : '');
    return li;
  }));
}

function once(target, event) {
  return new Promise((resolve) => target.addEventListener(event, resolve, { once: true }));
}

/**
 * Ends a Media Source stream once its buffer is idle. Chromium can report the buffer busy again
 * right after an 'updateend' (endOfStream then throws InvalidStateError), so this waits and tries
 * again a few times.
 */
async function endStream(source, buffer) {
  for (let attempt = 0; ; attempt++) {
    while (buffer.updating) {
      await once(buffer, 'updateend');
    }
    try {
      source.endOfStream();
      return;
    } catch (e) {
      if (attempt >= 5 || e.name !== 'InvalidStateError') {
        throw e;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

function firstAudio(started) {
  setPhase('playing', 'Playing while the rest is generated (first audio after '
      + Math.round(performance.now() - started) + ' ms)…');
}

/** MP3 and AAC play through Media Source Extensions as the bytes arrive. */
async function playWithMediaSource(response, mime, started) {
  const player = $('player');
  const source = new MediaSource();
  run.url = URL.createObjectURL(source);
  const opened = once(source, 'sourceopen');
  player.preload = 'auto'; // a media element that preloads nothing may never open the source
  player.src = run.url;
  player.load();
  await opened;
  const buffer = source.addSourceBuffer(mime);
  const reader = response.body.getReader();
  const chunks = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    chunks.push(value);
    if (buffer.updating) {
      await once(buffer, 'updateend');
    }
    buffer.appendBuffer(value);
    if (chunks.length === 1) {
      firstAudio(started);
      player.play().catch(() => {});
    }
  }
  await endStream(source, buffer);
  return chunks;
}

/** WAV plays through Web Audio: each piece of 16-bit PCM is scheduled right after the last. */
async function playWavWithWebAudio(response, started) {
  const context = new AudioContext();
  run.audioContext = context;
  const reader = response.body.getReader();
  const chunks = [];
  let pending = new Uint8Array(0);
  let rate = 0;
  let at = 0;
  let playing = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    chunks.push(value);
    let bytes = new Uint8Array(pending.length + value.length);
    bytes.set(pending);
    bytes.set(value, pending.length);
    if (rate === 0) {
      if (bytes.length < 44) {
        pending = bytes;
        continue;
      }
      rate = new DataView(bytes.buffer).getUint32(24, true);
      bytes = bytes.subarray(44);
    }
    const usable = bytes.length - (bytes.length % 2);
    pending = bytes.slice(usable);
    if (usable === 0) {
      continue;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, usable);
    const samples = new Float32Array(usable / 2);
    for (let i = 0; i < samples.length; i++) {
      samples[i] = view.getInt16(2 * i, true) / 32768;
    }
    const audio = context.createBuffer(1, samples.length, rate);
    audio.copyToChannel(samples, 0);
    const node = context.createBufferSource();
    node.buffer = audio;
    node.connect(context.destination);
    at = Math.max(at, context.currentTime + 0.05);
    node.start(at);
    at += audio.duration;
    if (!playing) {
      playing = true;
      firstAudio(started);
    }
  }
  return chunks;
}

/** Ogg, Opus and FLAC cannot be fed piece by piece here: they play once complete. */
async function playWhenComplete(response) {
  const chunks = [];
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      return chunks;
    }
    chunks.push(value);
  }
}

function stop() {
  if (run.controller) {
    run.controller.abort();
    run.controller = null;
  }
  if (run.audioContext) {
    run.audioContext.close();
    run.audioContext = null;
  }
  $('player').pause();
}

function resetResult() {
  stop();
  showError('');
  const link = $('download');
  if (link.href.startsWith('blob:')) {
    URL.revokeObjectURL(link.href);
  }
  link.hidden = true;
  if (run.url) {
    URL.revokeObjectURL(run.url);
    run.url = null;
  }
}

function setBusy(busy) {
  $('speak').disabled = busy;
  $('stop').disabled = !busy;
}

/** The request for the chosen voice source; saves an uploaded voice first when asked to. */
async function buildRequest(text, format, speed) {
  if ($('source-upload').checked) {
    const file = $('clip').files[0];
    if (!file) {
      throw new Error('Choose a reference clip, or pick a voice from the list.');
    }
    if (!$('consent').checked) {
      $('consent').focus();
      throw new Error('Confirm that the speaker agreed to have their voice cloned.');
    }
    const name = $('save-name').value.trim();
    if (!name) {
      const form = new FormData();
      form.append('script', text);
      form.append('voice_file', file);
      form.append('format', format);
      form.append('speed', speed);
      if (chosenModel()) {
        form.append('bundle', chosenModel());
      }
      return { url: '/tts/clone', init: { method: 'POST', headers: authHeaders(), body: form } };
    }
    const form = new FormData();
    form.append('name', name);
    form.append('audio', file);
    form.append('consent', 'true');
    if (chosenModel()) {
      form.append('bundle', chosenModel());
    }
    setPhase('saving', 'Saving the voice "' + name + '"…');
    const saved = await fetch('/voices', { method: 'POST', headers: authHeaders(), body: form });
    if (!saved.ok) {
      throw new Error(await describeFailure(saved));
    }
    await loadVoices();
    $('voice').value = name;
    return speechRequest(text, name, format, speed);
  }
  return speechRequest(text, $('voice').value, format, speed);
}

function speechRequest(text, voice, format, speed) {
  return {
    url: '/v1/audio/speech',
    init: {
      method: 'POST',
      headers: Object.assign({ 'Content-Type': 'application/json' }, authHeaders()),
      body: JSON.stringify(Object.assign({
        input: text, voice: voice, response_format: format, speed: Number(speed),
      }, chosenModel() ? { model: chosenModel() } : {})),
    },
  };
}

async function speak(event) {
  event.preventDefault();
  resetResult();
  if (!apiKey()) {
    showError('Enter the API key first.');
    $('key').focus();
    return;
  }
  const text = $('text').value.trim();
  if (!text) {
    showError('Type some text to speak.');
    $('text').focus();
    return;
  }
  const format = $('format').value;
  const speed = $('speed').value;
  setBusy(true);
  const started = performance.now();
  try {
    const request = await buildRequest(text, format, speed);
    run.controller = new AbortController();
    request.init.signal = run.controller.signal;
    setPhase('generating', 'Generating…');
    const response = await fetch(request.url, request.init);
    if (!response.ok) {
      showError(await describeFailure(response));
      return;
    }
    const mime = MIME[format];
    let chunks;
    let heard = true;
    if ((format === 'mp3' || format === 'aac') && window.MediaSource
        && MediaSource.isTypeSupported(mime)) {
      chunks = await playWithMediaSource(response, mime, started);
    } else if (format === 'wav' && window.AudioContext) {
      chunks = await playWavWithWebAudio(response, started);
    } else {
      chunks = await playWhenComplete(response);
      heard = false;
    }
    const blob = new Blob(chunks, { type: mime });
    const url = URL.createObjectURL(blob);
    if (!run.url) {
      // the player keeps the whole audio for replay; it starts now only if nothing played yet
      run.url = url;
      $('player').src = url;
      if (!heard) {
        $('player').play().catch(() => {});
      }
    }
    const link = $('download');
    link.href = url;
    link.download = 'speech.' + (format === 'opus' ? 'ogg' : format);
    link.hidden = false;
    setPhase('done', 'Done: ' + Math.round(blob.size / 1024) + ' kB in '
        + ((performance.now() - started) / 1000).toFixed(1) + ' s.');
  } catch (e) {
    if (e.name === 'AbortError') {
      setPhase('stopped', 'Stopped.');
    } else {
      showError(e.message || String(e));
    }
  } finally {
    run.controller = null;
    setBusy(false);
  }
}

function init() {
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = $('key').value.trim();
    if (key) {
      sessionStorage.setItem(KEY, key);
      $('key').value = '';
      showKeyState();
      showError('');
      loadVoices();
      $('text').focus();
    }
  });
  $('forget-key').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    showKeyState();
    $('key').focus();
  });
  $('speak-form').addEventListener('submit', speak);
  $('stop').addEventListener('click', stop);
  $('speed').addEventListener('input', () => {
    $('speed-value').textContent = Number($('speed').value).toFixed(2) + '×';
  });
  $('clip').addEventListener('change', () => {
    $('source-upload').checked = true;
  });
  $('model').addEventListener('change', loadVoices);
  $('voice').addEventListener('change', () => {
    $('source-voice').checked = true;
  });
  showKeyState();
  loadHealth().then(loadVoices);
  setInterval(loadHealth, 15000);
}

document.addEventListener('DOMContentLoaded', init);
