// The site's uses of the browser, all optional (every page works without them): the
// visitor's time zone for the discover page's date presets and for an event's start on their
// clock, and "Use my location" for "near".
"use strict";
(() => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  const tz = document.getElementById("tz");
  if (tz && !tz.value) tz.value = zone;
  // An event's start on the visitor's clock, when the page does not know it (not signed in)
  // and it differs from the event's.
  for (const start of document.querySelectorAll("time[data-zone]")) {
    const yours = document.getElementById("start-yours");
    if (!yours || !zone || zone === start.dataset.zone) continue;
    const at = new Date(start.dateTime);
    const local = new Intl.DateTimeFormat(undefined, {
      weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
      timeZoneName: "short",
    }).format(at);
    yours.textContent = `${local} on your clock (${zone})`;
    yours.hidden = false;
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
