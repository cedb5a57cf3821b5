// A user's image prepared as the model's training images were made: kerasapps.data.user_images
// (`prepare_rgba`) in JavaScript, the same functions in the same order, so the two can be read side
// by side. The page hands the result to MediaPipe's ImageClassifier, and its predictions must be
// Python's: so the arithmetic is Python's, operation for operation, in float64 (JS numbers):
// integer luma weights, one resample (Pillow's antialiased triangle, written out), sums added in
// index order, a least-squares plane in closed form, medians, and rounding halves up.
//
//   prepareImage(rgba, width, height, { size: [h, w], layout: "mnist" | "resize", channels })
//     rgba: width x height x 4 bytes as a canvas's getImageData gives them (not premultiplied; an
//       image whose alpha is all 255 is opaque; RGB is never read where alpha is 0).
//     channels: 1 or 3; 1 for "mnist" and 3 for "resize" unless told.
//     -> { pixels: Uint8ClampedArray of h * w * channels values (row-major, channels interleaved),
//          notes: what was done, the strings Python writes (less its notes on decoding: EXIF, 16 bits) }
//
// An image here is a plane: { height, width, data: Float64Array, row-major }.

export const LAYOUTS = ["mnist", "resize"];
const LUMA_WEIGHTS = [19595, 38470, 7471]; // ITU-R 601 in 16-bit fixed point, as Pillow's "L"; they sum to 65536
const WORKING_SIDE = 512; // larger images are shrunk first: a 20x20 digit needs far fewer pixels
const BORDER_FRACTION = 0.04; // the outer ring taken as background
const INK_MASS_TAIL = 0.002; // of the ink mass, each side, left outside the box: specks, not strokes
const MIN_INK = 0.06; // weakest peak contrast (0-1) still read as ink: fainter is blank paper

export function prepareImage(rgba, width, height, { size, layout, channels = layout === "mnist" ? 1 : 3 }) {
  if (!LAYOUTS.includes(layout)) {
    throw new Error(`Unrecognized layout=${JSON.stringify(layout)}. Supported values are: ${LAYOUTS.join(", ")}.`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new Error(`Unrecognized channels=${JSON.stringify(channels)}. Supported values are: 1, 3.`);
  }
  if (!(width >= 1 && height >= 1 && rgba.length === width * height * 4)) {
    throw new Error(`Expected ${width} x ${height} x 4 RGBA bytes; got ${rgba.length}.`);
  }
  if (layout === "mnist") {
    const { gray, notes } = mnistDigit(rgba, width, height, size);
    const pixels = new Uint8ClampedArray(gray.length * channels);
    for (let i = 0; i < pixels.length; i++) pixels[i] = gray[Math.floor(i / channels)];
    return { pixels, notes };
  }
  return resizedPhoto(rgba, width, height, size, channels);
}

// --- reading ---

function luma(red, green, blue) {
  // In the units of its arguments; integer weights keep a gray pixel exact.
  return (LUMA_WEIGHTS[0] * red + LUMA_WEIGHTS[1] * green + LUMA_WEIGHTS[2] * blue) / 65536;
}

function isOpaque(rgba) {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return false;
  return true;
}

// Planes in [0, 1]: the luma composited on white, and the alpha (null if all opaque). Compositing
// before shrunk() is compositing after it (both are linear), and RGB is read only through
// gray x alpha, which is 0 where alpha is 0 (a canvas gives RGB 0 there).
function grayAndAlpha(rgba, width, height) {
  const gray = newPlane(height, width);
  for (let i = 0; i < gray.data.length; i++) gray.data[i] = luma(rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]) / 255;
  if (isOpaque(rgba)) return { gray, alpha: null };
  const alpha = newPlane(height, width);
  for (let i = 0; i < gray.data.length; i++) {
    const a = rgba[4 * i + 3] / 255;
    alpha.data[i] = a;
    gray.data[i] = gray.data[i] * a + (1 - a);
  }
  return { gray, alpha };
}

// --- arithmetic both languages do alike ---

function newPlane(height, width) {
  return { height, width, data: new Float64Array(height * width) };
}

function rounded(x) {
  // Halves up, as Python's _rounded (not Math.round: it differs just below a half).
  return Math.floor(x + 0.5);
}

function median(values) {
  // The middle value, or the mean of the two middle ones (numpy's rule).
  const sorted = Float64Array.from(values).sort();
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function maximum(values) {
  let peak = -Infinity;
  for (const value of values) if (value > peak) peak = value;
  return peak;
}

// The plane resized to height x width: columns, then rows (as Pillow does). The filter is Pillow's
// BILINEAR written out: a triangle one input pixel wide each side, widened to one output pixel when
// shrinking (so it averages, anti-aliased); taps outside the image are dropped and the rest
// renormalized. An axis already at its size is left alone.
function resampled(plane, height, width) {
  return resampledAxis(resampledAxis(plane, width, 1), height, 0);
}

function resampledAxis(plane, outSize, axis) {
  const inSize = axis === 0 ? plane.height : plane.width;
  if (outSize === inSize) return plane;
  const { first, count, weights, taps } = triangleWeights(inSize, outSize);
  const result = axis === 0 ? newPlane(outSize, plane.width) : newPlane(plane.height, outSize);
  // Along the axis, input pixel i of line `line` is at line * lineStep + i * step.
  const [lines, step, lineStep] = axis === 0 ? [plane.width, plane.width, 1] : [plane.height, 1, plane.width];
  const [outStep, outLineStep] = axis === 0 ? [result.width, 1] : [1, result.width];
  for (let line = 0; line < lines; line++) {
    for (let j = 0; j < outSize; j++) {
      let sum = 0; // taps in order, as Python adds them
      for (let k = 0; k < count[j]; k++) {
        sum += plane.data[line * lineStep + (first[j] + k) * step] * weights[j * taps + k];
      }
      result.data[line * outLineStep + j * outStep] = sum;
    }
  }
  return result;
}

// Output pixel j is the sum over k < count[j] of weights[j * taps + k] x input[first[j] + k].
function triangleWeights(inSize, outSize) {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1); // the triangle's half-width in input pixels
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  for (let j = 0; j < outSize; j++) {
    const centre = (j + 0.5) * scale; // the output pixel's centre, in input coordinates
    first[j] = Math.max(Math.floor(centre - support + 0.5), 0);
    count[j] = Math.min(Math.floor(centre + support + 0.5), inSize) - first[j];
  }
  const taps = maximum(count);
  const weights = new Float64Array(outSize * taps);
  for (let j = 0; j < outSize; j++) {
    const centre = (j + 0.5) * scale;
    let total = 0;
    for (let k = 0; k < count[j]; k++) {
      const distance = Math.abs((first[j] + k + 0.5 - centre) / support);
      weights[j * taps + k] = Math.max(1 - distance, 0);
      total += weights[j * taps + k];
    }
    for (let k = 0; k < count[j]; k++) weights[j * taps + k] /= total;
  }
  return { first, count, weights, taps };
}

// --- MNIST layout ---

function mnistDigit(rgba, width, height, size) {
  const resized = height !== size[0] || width !== size[1];
  let { gray, alpha } = grayAndAlpha(rgba, width, height);
  [gray, alpha] = [shrunk(gray), alpha === null ? null : shrunk(alpha)];
  const notes = [];
  let ink;
  if (alpha !== null && median(border(alpha)) < 0.5) {
    // A drawing on nothing: the strokes are where it is opaque, whatever their colour.
    ink = alpha;
    notes.push("read the strokes from its transparency");
  } else {
    if (alpha !== null) notes.push("composited its transparency on white"); // gray is on white
    let inverted;
    ({ ink, inverted } = inkFromBackground(gray));
    if (inverted) notes.push("inverted it (dark ink on a light background)");
  }
  ink = levelled(ink);
  if (ink === null) {
    return { gray: new Uint8ClampedArray(size[0] * size[1]), notes: [...notes, "found no ink: the image looks blank"] };
  }
  const digit = normalizedSize(croppedToInk(ink), size);
  const field = placedByCentreOfMass(digit, size);
  // An image already at the model's size is a digit field of its own: no news to tell.
  if (resized) notes.push("cropped the ink and centred it as MNIST digits are");
  const stretch = 255 / maximum(field.data);
  return { gray: Uint8ClampedArray.from(field.data, (value) => rounded(value * stretch)), notes };
}

// The plane with its longer side at most WORKING_SIDE (anti-aliased).
function shrunk(plane) {
  const longest = Math.max(plane.height, plane.width);
  if (longest <= WORKING_SIDE) return plane;
  const side = (length) => Math.max(1, rounded((length * WORKING_SIDE) / longest));
  return resampled(plane, side(plane.height), side(plane.width));
}

// Whether (row, col) is on the outer ring: BORDER_FRACTION of the shorter side, at least 1.
function borderTest(plane) {
  const width = Math.max(1, rounded(BORDER_FRACTION * Math.min(plane.height, plane.width)));
  return (row, col) => row < width || row >= plane.height - width || col < width || col >= plane.width - width;
}

// The ring's pixels in row-major order.
function border(plane) {
  const onBorder = borderTest(plane);
  const values = [];
  for (let row = 0; row < plane.height; row++) {
    for (let col = 0; col < plane.width; col++) if (onBorder(row, col)) values.push(plane.data[row * plane.width + col]);
  }
  return Float64Array.from(values);
}

// How far each pixel is from the paper, fitted as a plane to the border (a lighting gradient is a
// plane); inverted when the ink is darker than the paper.
function inkFromBackground(gray) {
  const onBorder = borderTest(gray);
  const rows = [], cols = [], values = [];
  for (let row = 0; row < gray.height; row++) {
    for (let col = 0; col < gray.width; col++) {
      if (onBorder(row, col)) {
        rows.push(row);
        cols.push(col);
        values.push(gray.data[row * gray.width + col]);
      }
    }
  }
  let plane = fittedPlane(rows, cols, values);
  const residual = values.map((value, i) => value - planeAt(plane, rows[i], cols[i]));
  const limit = 3 * noise(residual) + 1e-3;
  const keep = residual.map((value) => Math.abs(value) <= limit);
  if (keep.includes(true)) {
    // Refit without the border pixels far from the first plane (a stroke at the edge).
    const kept = (array) => array.filter((_, i) => keep[i]);
    plane = fittedPlane(kept(rows), kept(cols), kept(values));
  }
  const difference = newPlane(gray.height, gray.width);
  let total = 0;
  for (let row = 0; row < gray.height; row++) {
    for (let col = 0; col < gray.width; col++) {
      const i = row * gray.width + col;
      difference.data[i] = gray.data[i] - planeAt(plane, row, col);
      total += difference.data[i];
    }
  }
  const inverted = total < 0;
  for (let i = 0; i < difference.data.length; i++) {
    difference.data[i] = Math.max(inverted ? -difference.data[i] : difference.data[i], 0);
  }
  return { ink: difference, inverted };
}

// [a, b, c] of the least-squares plane a + b row + c col through `values`, in closed form. The
// coordinate moments are integers, exact in float64 in any order. Points on one line (a
// one-pixel-high image) fit a constant: the mean.
function fittedPlane(rows, cols, values) {
  const n = values.length;
  let sumR = 0, sumC = 0, sumV = 0, sumRR = 0, sumCC = 0, sumRC = 0, sumRV = 0, sumCV = 0;
  for (let i = 0; i < n; i++) {
    sumR += rows[i];
    sumC += cols[i];
    sumV += values[i];
    sumRR += rows[i] * rows[i];
    sumCC += cols[i] * cols[i];
    sumRC += rows[i] * cols[i];
    sumRV += rows[i] * values[i];
    sumCV += cols[i] * values[i];
  }
  // n x the centred moments: n sum(x y) - sum(x) sum(y).
  const rr = n * sumRR - sumR * sumR;
  const cc = n * sumCC - sumC * sumC;
  const rc = n * sumRC - sumR * sumC;
  const rv = n * sumRV - sumR * sumV;
  const cv = n * sumCV - sumC * sumV;
  const determinant = rr * cc - rc * rc;
  let b = 0, c = 0;
  if (determinant > 1e-9 * rr * cc) {
    b = (rv * cc - cv * rc) / determinant;
    c = (cv * rr - rv * rc) / determinant;
  }
  return [(sumV - b * sumR - c * sumC) / n, b, c];
}

function planeAt([a, b, c], row, col) {
  return a + b * row + c * col;
}

// Robust standard deviation (1.4826 x the median absolute deviation).
function noise(values) {
  const middle = median(values);
  return 1.4826 * median(values.map((value) => Math.abs(value - middle)));
}

// Ink with the noise floor and faint shading subtracted, or null if no stroke stands out.
function levelled(ink) {
  const peak = maximum(ink.data);
  const floor = Math.max(4 * noise(border(ink)), 0.1 * peak);
  if (peak < Math.max(MIN_INK, 2 * floor)) return null;
  const result = newPlane(ink.height, ink.width);
  for (let i = 0; i < ink.data.length; i++) result.data[i] = Math.max(ink.data[i] - floor, 0);
  return result;
}

// The smallest box holding all but INK_MASS_TAIL of the ink mass at each side.
function croppedToInk(ink) {
  const rowMass = new Float64Array(ink.height);
  const colMass = new Float64Array(ink.width);
  for (let row = 0; row < ink.height; row++) {
    for (let col = 0; col < ink.width; col++) rowMass[row] += ink.data[row * ink.width + col];
  }
  for (let col = 0; col < ink.width; col++) {
    for (let row = 0; row < ink.height; row++) colMass[col] += ink.data[row * ink.width + col];
  }
  const [top, bottom] = massBounds(rowMass);
  const [left, right] = massBounds(colMass);
  const box = newPlane(bottom - top, right - left);
  for (let row = top; row < bottom; row++) {
    for (let col = left; col < right; col++) box.data[(row - top) * box.width + col - left] = ink.data[row * ink.width + col];
  }
  return box;
}

// [start, end) of a profile: the first index whose cumulative share of the mass reaches
// INK_MASS_TAIL, to one past the first reaching 1 - INK_MASS_TAIL (numpy's searchsorted).
function massBounds(profile) {
  const mass = new Float64Array(profile.length);
  let sum = 0;
  for (let i = 0; i < profile.length; i++) mass[i] = sum += profile[i];
  const share = mass.map((value) => value / mass[mass.length - 1]);
  return [share.findIndex((value) => value >= INK_MASS_TAIL), share.findIndex((value) => value >= 1 - INK_MASS_TAIL) + 1];
}

// The digit resized, aspect kept and anti-aliased, to fit MNIST's box (20x20 of 28x28).
function normalizedSize(digit, size) {
  const box = (20 * Math.min(...size)) / 28;
  const longest = Math.max(digit.height, digit.width);
  const side = (length) => Math.max(1, rounded((length * box) / longest));
  return resampled(digit, side(digit.height), side(digit.width));
}

// A zero field of `size` with the digit pasted so that its centre of mass is at the centre (at 14,
// 14 of 28x28, as MNIST's training digits average), kept whole inside the field.
function placedByCentreOfMass(digit, size) {
  const field = newPlane(size[0], size[1]);
  const rowProfile = new Float64Array(digit.height);
  const colProfile = new Float64Array(digit.width);
  for (let row = 0; row < digit.height; row++) {
    for (let col = 0; col < digit.width; col++) rowProfile[row] += digit.data[row * digit.width + col];
  }
  for (let col = 0; col < digit.width; col++) {
    for (let row = 0; row < digit.height; row++) colProfile[col] += digit.data[row * digit.width + col];
  }
  const offset = (profile, fieldSide) => {
    let moment = 0, mass = 0;
    for (let i = 0; i < profile.length; i++) moment += profile[i] * i;
    for (let i = 0; i < profile.length; i++) mass += profile[i];
    const centre = moment / mass;
    return Math.min(Math.max(rounded(fieldSide / 2 - centre), 0), fieldSide - profile.length);
  };
  const top = offset(rowProfile, size[0]);
  const left = offset(colProfile, size[1]);
  for (let row = 0; row < digit.height; row++) {
    for (let col = 0; col < digit.width; col++) field.data[(top + row) * field.width + left + col] = digit.data[row * digit.width + col];
  }
  return field;
}

// --- resize layout ---

// The photo with its shorter side resized to fit `size`, centre-cropped: { pixels, notes }.
function resizedPhoto(rgba, width, height, size, channels) {
  const notes = [];
  let colour = [0, 1, 2].map((c) => {
    const plane = newPlane(height, width);
    for (let i = 0; i < plane.data.length; i++) plane.data[i] = rgba[4 * i + c];
    return plane;
  });
  if (!isOpaque(rgba)) {
    // On white: what an image viewer or a web page shows the user of a cut-out photo, so the model
    // sees what the user saw (black would paint a shape CIFAR's photos never have).
    for (const plane of colour) {
      for (let i = 0; i < plane.data.length; i++) {
        const a = rgba[4 * i + 3] / 255;
        plane.data[i] = plane.data[i] * a + 255 * (1 - a);
      }
    }
    notes.push("composited its transparency on white");
  }
  if (channels === 1) {
    const gray = newPlane(height, width);
    for (let i = 0; i < gray.data.length; i++) gray.data[i] = luma(colour[0].data[i], colour[1].data[i], colour[2].data[i]);
    colour = [gray];
  }
  const [outHeight, outWidth] = size;
  if (height !== outHeight || width !== outWidth) {
    if (width * outHeight !== height * outWidth) {
      notes.push(`cropped it to the centre (its aspect ratio is not ${outWidth}:${outHeight})`);
    }
    notes.push(`resized it from ${width}x${height} to ${outWidth}x${outHeight}`);
    colour = colour.map((plane) => resampled(centreCropped(plane, outHeight / outWidth), outHeight, outWidth));
  }
  const pixels = new Uint8ClampedArray(outHeight * outWidth * channels);
  for (let i = 0; i < pixels.length; i++) {
    pixels[i] = Math.min(Math.max(rounded(colour[i % channels].data[Math.floor(i / channels)]), 0), 255);
  }
  return { pixels, notes };
}

// The centre of the plane with height / width = aspect (whole pixels; the longer side cut).
function centreCropped(plane, aspect) {
  let top = 0, left = 0, height = plane.height, width = plane.width;
  if (plane.width * aspect > plane.height) {
    width = Math.max(1, Math.min(plane.width, rounded(plane.height / aspect))); // too wide
    left = Math.floor((plane.width - width) / 2);
  } else {
    height = Math.max(1, Math.min(plane.height, rounded(plane.width * aspect)));
    top = Math.floor((plane.height - height) / 2);
  }
  const result = newPlane(height, width);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) result.data[row * width + col] = plane.data[(top + row) * plane.width + left + col];
  }
  return result;
}
