// mqtt.js in the browser against CP7, driven by e2e/browser_test.go.
//
// For each transport (ws, wss) one client:
//   1. connects (MQTT 3.1.1), subscribes to PREFIX/loop/KIND and PREFIX/g2b/KIND;
//   2. publishes to PREFIX/loop/KIND and waits for its own message back;
//   3. publishes "ready KIND" to PREFIX/b2g/KIND, where a Go client listens;
//   4. waits for the Go client's message on PREFIX/g2b/KIND and answers
//      "got <it>" on PREFIX/b2g/KIND.
// The outcome goes into document.title ("OK ws wss" or "FAIL ...") and is
// POSTed as JSON to /result, where the test waits for it.
(function () {
  'use strict';
  var q = new URLSearchParams(location.search);
  var prefix = q.get('prefix');
  var targets = [['ws', q.get('ws')], ['wss', q.get('wss')]];
  var result = { title: '', kinds: {}, log: [] };
  var logEl = document.getElementById('log');

  function log(s) {
    result.log.push(s);
    logEl.textContent += s + '\n';
  }

  function run(kind, url) {
    return new Promise(function (resolve, reject) {
      var got = {};
      var loopTopic = prefix + '/loop/' + kind;
      var inTopic = prefix + '/g2b/' + kind;
      var outTopic = prefix + '/b2g/' + kind;
      var c = mqtt.connect(url, {
        clientId: 'browser-' + kind + '-' + prefix.replace(/\W/g, ''),
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 0, // one attempt: the test reports what happened
        connectTimeout: 10000
      });
      var timer = setTimeout(function () {
        c.end(true);
        reject(new Error(kind + ': timed out; got ' + JSON.stringify(got)));
      }, 20000);
      function fail(what, err) {
        clearTimeout(timer);
        c.end(true);
        reject(new Error(kind + ': ' + what + ': ' + (err && err.message ? err.message : err)));
      }
      c.on('error', function (err) { fail('error', err); });
      c.on('connect', function () {
        log(kind + ': connected to ' + url);
        c.subscribe([loopTopic, inTopic], { qos: 1 }, function (err, granted) {
          if (err) { return fail('subscribe', err); }
          log(kind + ': subscribed ' + JSON.stringify(granted.map(function (g) { return g.qos; })));
          c.publish(loopTopic, 'loop ' + kind, { qos: 1 });
        });
      });
      c.on('message', function (topic, payload) {
        var s = payload.toString();
        log(kind + ': message on ' + topic + ': ' + s);
        if (topic === loopTopic && got.loop === undefined) {
          got.loop = s;
          c.publish(outTopic, 'ready ' + kind, { qos: 1 });
        } else if (topic === inTopic && got.fromGo === undefined) {
          got.fromGo = s;
          c.publish(outTopic, 'got ' + s, { qos: 1 }, function (err) {
            if (err) { return fail('publish', err); }
            clearTimeout(timer);
            c.end(false, {}, function () { resolve(got); });
          });
        }
      });
    });
  }

  Promise.all(targets.map(function (t) {
    return run(t[0], t[1]).then(function (got) { result.kinds[t[0]] = got; return t[0]; });
  })).then(function (kinds) {
    result.title = 'OK ' + kinds.join(' ');
  }).catch(function (err) {
    result.title = 'FAIL ' + err.message;
  }).then(function () {
    document.title = result.title;
    log(result.title);
    return fetch('/result', { method: 'POST', body: JSON.stringify(result) });
  });
})();
