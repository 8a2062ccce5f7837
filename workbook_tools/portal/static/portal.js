/* wbtools portal: drag and drop and upload progress for the unit's upload form. The form works
   without this script (a plain multipart POST and a redirect to the verdict); with it, the file
   is sent with XMLHttpRequest so the clerk sees the progress, then the verdict page opens. */
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  var input = document.getElementById("file-input");
  var zone = document.getElementById("drop-zone");
  var nameOut = document.getElementById("file-name");
  var bar = document.getElementById("upload-progress");
  var statusOut = document.getElementById("upload-status");
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;

  function show(text) { statusOut.textContent = text; }
  function chosen() {
    var f = input.files && input.files[0];
    nameOut.textContent = f ? f.name : "";
    show("");
  }
  input.addEventListener("change", chosen);
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
      chosen();
    }
  });

  form.addEventListener("submit", function (e) {
    var f = input.files && input.files[0];
    if (!f) return; // the browser's own "required" message
    e.preventDefault();
    if (maxBytes && f.size > maxBytes) { show(form.getAttribute("data-too-large")); return; }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false;
    bar.value = 0;
    show(form.getAttribute("data-uploading"));
    xhr.upload.addEventListener("progress", function (ev) {
      if (ev.lengthComputable) {
        bar.value = Math.round((ev.loaded / ev.total) * 100);
        if (ev.loaded >= ev.total) show(form.getAttribute("data-checking"));
      }
    });
    xhr.addEventListener("load", function () {
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (err) { data = null; }
      if (data && data.upload_id) {
        var action = form.action.split("?");
        window.location.href = action[0] + "/uploads/" + data.upload_id + (action[1] ? "?" + action[1] : "");
        return;
      }
      bar.hidden = true;
      var file = data && data.files && data.files[0];
      var finding = file && file.findings && file.findings[0];
      show(finding ? finding.code + " " + finding.message : form.getAttribute("data-failed"));
    });
    xhr.addEventListener("error", function () {
      bar.hidden = true;
      show(form.getAttribute("data-failed"));
    });
    xhr.send(new FormData(form));
  });
})();
