// Live tail of the provisioning log: every 2 seconds, asks for entries newer than the newest shown and prepends them.
(function () {
  'use strict';
  var INTERVAL_MS = 2000;
  document.addEventListener('DOMContentLoaded', function () {
    var wrap = document.querySelector('[data-tail-url]');
    if (!wrap) return;
    var rows = wrap.querySelector('[data-event-rows]');
    var status = document.querySelector('[data-live-status]');
    var empty = document.querySelector('[data-log-empty]');
    var newest = wrap.getAttribute('data-newest') || '';
    var failures = 0;
    function poll() {
      var url = wrap.getAttribute('data-tail-url') + (newest ? '&after=' + encodeURIComponent(newest) : '');
      fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
        .then(function (res) {
          if (!res.ok) throw new Error('HTTP ' + res.status);
          return res.json();
        })
        .then(function (data) {
          failures = 0;
          if (status) status.classList.remove('live-off');
          if (data.count > 0) {
            var holder = document.createElement('tbody');
            holder.innerHTML = data.html; // Rendered and escaped by the server's EJS templates.
            var fresh = Array.prototype.slice.call(holder.children);
            fresh.reverse().forEach(function (row) {
              if (rows.querySelector('[data-event-id="' + row.getAttribute('data-event-id') + '"]')) return;
              row.classList.add('fresh');
              rows.insertBefore(row, rows.firstChild);
            });
            if (window.gatehouseLocalise) window.gatehouseLocalise(rows);
            newest = data.newest;
            if (empty) empty.hidden = true;
          }
        })
        .catch(function () {
          failures += 1;
          if (status && failures > 2) status.classList.add('live-off');
        })
        .then(function () { setTimeout(poll, INTERVAL_MS); });
    }
    setTimeout(poll, INTERVAL_MS);
  });
})();
