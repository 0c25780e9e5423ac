// Landing page: preview the chosen face photo; an uploaded GIF takes precedence over the gallery.
"use strict";
(function () {
  const face = document.getElementById("face-input");
  const preview = document.getElementById("face-preview");
  const gif = document.getElementById("gif-input");
  if (face && preview) {
    face.addEventListener("change", function () {
      const file = face.files && face.files[0];
      if (!file) { preview.hidden = true; return; }
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
    });
  }
  if (gif) {
    gif.addEventListener("change", function () {
      const chosen = gif.files && gif.files.length > 0;
      document.querySelectorAll("input[name=template]").forEach(function (r) {
        if (chosen) { r.checked = false; }
      });
    });
  }
  const form = document.getElementById("make-form");
  if (form) {
    form.addEventListener("submit", function () {
      const go = document.getElementById("go");
      if (go) { go.disabled = true; go.textContent = "Uploading…"; }
    });
  }
})();
