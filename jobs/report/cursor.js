// One episode's time cursor: the slider picks a frame; a line marks it on the signals plot (whose axes span
// data-x0..data-x1 of the image's width for frames 0..data-frames - 1) and each camera's nearest strip frame is outlined.
window.addEventListener("load", () => {
  const slider = document.getElementById("cursor");
  const plot = document.querySelector("img[data-x0]");
  if (!slider || !plot) return;
  const line = document.getElementById("cursor-line");
  const readout = document.getElementById("cursor-at");
  const fps = Number(slider.dataset.fps);
  const last = Math.max(Number(plot.dataset.frames) - 1, 1);
  const x0 = Number(plot.dataset.x0), x1 = Number(plot.dataset.x1);
  const move = () => {
    const t = Number(slider.value);
    line.style.left = `${(x0 + (t / last) * (x1 - x0)) * 100}%`;
    readout.textContent = `frame ${t} (${(t / fps).toFixed(1)} s)`;
    document.querySelectorAll(".strip").forEach((strip) => {
      let best = null;
      strip.querySelectorAll("img[data-frame]").forEach((img) => {
        img.classList.remove("at");
        if (!best || Math.abs(img.dataset.frame - t) < Math.abs(best.dataset.frame - t)) best = img;
      });
      if (best) best.classList.add("at");
    });
  };
  slider.addEventListener("input", move);
  move();
});
