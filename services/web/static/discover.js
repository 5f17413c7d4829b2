// The discover page's two uses of the browser, both optional (the page works without them):
// the visitor's time zone for the date presets, and "Use my location" for "near".
"use strict";
(() => {
  const tz = document.getElementById("tz");
  if (tz && !tz.value) {
    tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  }
  const locate = document.getElementById("locate");
  const near = document.getElementById("near");
  if (!locate || !near || !navigator.geolocation) return;
  locate.hidden = false;
  locate.addEventListener("click", () => {
    locate.disabled = true;
    navigator.geolocation.getCurrentPosition(
      (position) => {
        const here = document.createElement("option");
        here.value = `${position.coords.latitude.toFixed(4)},${position.coords.longitude.toFixed(4)}`;
        here.textContent = "My location";
        near.append(here);
        near.value = here.value;
        near.form.submit();
      },
      () => {
        locate.disabled = false;
        locate.textContent = "Location unavailable";
      },
    );
  });
})();
