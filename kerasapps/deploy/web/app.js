// The page of `kerasapps export`'s web/ folder: MediaPipe Tasks for web runs the exported .tflite files.
//
// app.json (written by export) says what the model is: kind "image" or "text", labels, input size and
// layout, and the files. An image is prepared as the model's training images were made (prepare.js,
// the same steps as kerasapps.data.user_images) and handed to ImageClassifier at the model's size;
// a review goes to TextClassifier, whose tokenizer travels in the file's metadata.
// ?variant=int8&delegate=GPU picks the file and delegate; ?model=URL loads another .tflite.
// window.kerasapps exposes the same calls to scripts (the tests drive the page through it).

import { prepareImage } from "./prepare.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let app, mediapipe, wasm, classifier, loaded = {};

function status(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

// MediaPipe from the project's npm install (`kerasapps serve` serves it under /mediapipe/), else the CDN.
async function loadMediapipe() {
  const bundle = app.kind === "image" ? "vision_bundle.mjs" : "text_bundle.mjs";
  for (const base of [app.mediapipe.local, app.mediapipe.cdn]) {
    try {
      mediapipe = await import(`${base}/${bundle}`);
      wasm = `${base}/wasm`;
      return base;
    } catch (error) {
      console.warn(`MediaPipe not at ${base}: ${error}`);
    }
  }
  throw new Error(`MediaPipe ${app.mediapipe.version} could not be loaded, neither from this server nor from ${app.mediapipe.cdn}`);
}

// What a failed load means, in the user's words; MediaPipe's own first line follows.
function explain(file, error) {
  const message = String(error?.message ?? error).split(" === Source Location")[0].split("; Initialize was not ok")[0];
  const other = app.kind === "image" ? "text" : "image";
  if (/ImageProperties|FeatureProperties|Expected .* tensor|dims|dimension/i.test(message))
    return `${file} is not ${app.kind === "image" ? "an image" : "a text"} model: is it a ${other} model? Open its own export's page (${message})`;
  if (/NormalizationOptions|metadata|associated file|labels/i.test(message))
    return `${file} has no TFLite metadata (labels, input description): export it with \`kerasapps export RUN\` (${message})`;
  if (/flatbuffer|not a valid|identifier|Could not build model|Failed to fetch|status 404|model/i.test(message))
    return `${file} is not a TFLite model this page can read (${message})`;
  return `${file} could not be loaded: ${message}`;
}

async function load(variant, delegate) {
  const file = params.get("model") ?? app.files[variant];
  status(`Loading ${file} on the ${delegate} delegate…`);
  classifier?.close();  // its WebAssembly graph and WebGL context go with it
  classifier = null;
  const start = performance.now();
  try {
    const options = { baseOptions: { modelAssetPath: file, delegate }, maxResults: app.labels.length };
    if (app.kind === "image") {
      const fileset = await mediapipe.FilesetResolver.forVisionTasks(wasm);
      classifier = await mediapipe.ImageClassifier.createFromOptions(fileset, { ...options, runningMode: "IMAGE" });
    } else {
      const fileset = await mediapipe.FilesetResolver.forTextTasks(wasm);
      classifier = await mediapipe.TextClassifier.createFromOptions(fileset, options);
    }
  } catch (error) {
    classifier = null;
    status(explain(file, error), true);
    throw new Error(explain(file, error));
  }
  loaded = { file, variant, delegate, loadMs: performance.now() - start };
  status(`${file} on the ${delegate} delegate, loaded in ${loaded.loadMs.toFixed(0)} ms.`);
  return loaded;
}

function ranked(result, ms) {
  const categories = result.classifications[0].categories;
  const top = categories.map((c) => ({ label: c.categoryName || app.labels[c.index] || String(c.index), score: c.score }));
  return { label: top[0].label, score: top[0].score, top, ms };
}

function show(prediction) {
  $("results").replaceChildren(
    ...prediction.top.slice(0, 3).map((c) => Object.assign(document.createElement("li"), {
      textContent: `${c.label}: ${(100 * c.score).toFixed(1)}%`,
    })),
  );
  $("time").textContent = `${prediction.ms.toFixed(1)} ms (${loaded.variant}, ${loaded.delegate})`;
}

// An image's RGBA pixels -> prepared as training images were -> the classifier's answer.
function classifyPixels(rgba, width, height) {
  const [h, w] = app.size;
  const { pixels, notes } = prepareImage(rgba, width, height, { size: app.size, layout: app.layout });
  const image = new ImageData(w, h);
  const channels = pixels.length / (w * h);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) image.data[4 * i + c] = pixels[channels * i + (channels === 3 ? c : 0)];
    image.data[4 * i + 3] = 255;
  }
  const start = performance.now();
  const result = classifier.classify(image);
  return { ...ranked(result, performance.now() - start), notes, image };
}

function classifyText(text) {
  const start = performance.now();
  const result = classifier.classify(text);
  return ranked(result, performance.now() - start);
}

// The RGBA pixels of an image, a canvas or a bitmap, at its own size, as decoded (no colour management).
function rgbaOf(source) {
  const canvas = document.createElement("canvas");
  canvas.width = source.width;
  canvas.height = source.height;
  const context = canvas.getContext("2d", { colorSpace: "srgb", willReadFrequently: true });
  context.drawImage(source, 0, 0);
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

// An image file's bitmap as its bytes say: no ICC or gamma conversion (Python's decoder does none).
const decode = (blob) => createImageBitmap(blob, { colorSpaceConversion: "none", imageOrientation: "from-image", premultiplyAlpha: "none" });

function showImage(source) {
  const { data, width, height } = rgbaOf(source);
  const prediction = classifyPixels(data, width, height);
  $("seen").getContext("2d").putImageData(prediction.image, 0, 0);
  $("notes").textContent = prediction.notes.join("; ");
  show(prediction);
  return prediction;
}

async function showFile(file) {
  try {
    return showImage(await decode(file));
  } catch (error) {
    status(`${file.name} is not an image this browser can decode (${error.message ?? error})`, true);
  }
}

// An image file at `url` through the page's own steps: fetched, decoded, prepared, classified.
async function classifyUrl(url) {
  const { data, width, height } = rgbaOf(await decode(await (await fetch(url)).blob()));
  const { image, ...prediction } = classifyPixels(data, width, height);
  return prediction;
}

function setUpDrawing() {
  const canvas = $("draw");
  const context = canvas.getContext("2d");
  const clear = () => { context.clearRect(0, 0, canvas.width, canvas.height); $("results").replaceChildren(); };
  clear();
  let drawing = false;
  const point = (event) => [event.offsetX, event.offsetY];
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    context.beginPath();
    context.moveTo(...point(event));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    Object.assign(context, { lineWidth: 18, lineCap: "round", lineJoin: "round", strokeStyle: "#000" });
    context.lineTo(...point(event));
    context.stroke();
  });
  // Strokes on a transparent canvas: what a drawing app's PNG holds (prepare reads the alpha).
  canvas.addEventListener("pointerup", () => { drawing = false; if (classifier) showImage(canvas); });
  $("clear").onclick = clear;
  $("file").onchange = () => $("file").files[0] && showFile($("file").files[0]);
  const drop = $("drop");
  drop.ondragover = (event) => { event.preventDefault(); drop.classList.add("over"); };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files[0]) showFile(event.dataTransfer.files[0]);
  };
}

async function main() {
  app = await (await fetch("app.json")).json();
  $("title").textContent = `${app.experiment}: ${app.kind === "image" ? "draw a digit or drop a photo" : "type a review"}`;
  for (const variant of Object.keys(app.files)) $("variant").append(new Option(variant, variant));
  $("variant").value = params.get("variant") ?? (app.files.float32 ? "float32" : Object.keys(app.files)[0]);
  $("delegate").value = params.get("delegate") ?? "CPU";
  $(app.kind === "image" ? "image-panel" : "text-panel").hidden = false;
  const reload = () => load($("variant").value, $("delegate").value).catch(() => {});
  $("variant").onchange = reload;
  $("delegate").onchange = reload;
  if (app.kind === "image") setUpDrawing();
  else $("classify").onclick = () => classifier && show(classifyText($("review").value));
  try {
    await loadMediapipe();
  } catch (error) {
    status(error.message, true);
    throw error;
  }
  await load($("variant").value, $("delegate").value);
}

const ready = main();
window.kerasapps = { app: () => app, ready, load, loaded: () => loaded, classifyUrl, classifyPixels: (...args) => { const { image, ...p } = classifyPixels(...args); return p; }, classifyText, showImage };
