import assert from "node:assert/strict";
import {
  createW1Sensor,
  listW1ThermometersSync,
  parseW1Slave,
  parseW1Temperature,
} from "../../lib/sensors/w1.ts";
import { board, configError, copyBoard, osError } from "./_board.ts";

const GOOD = "28-0316a2799dff";
const CRC_FAIL = "28-0417c4b1d5ff";
const POWER_ON = "28-3c01d607d4aa";

Deno.test.each([
  ["5b 01 4b 46 7f ff 05 10 b5 : crc=b5 YES\n5b 01 4b 46 7f ff 05 10 b5 t=21687\n", 21.687],
  ["2c 01 ff ff 7f ff ff ff 61 : crc=61 YES\n2c 01 ff ff 7f ff ff ff 61 t=18750\n", 18.75],
  ["ec ff 4b 46 7f ff 04 10 f4 : crc=f4 YES\nec ff 4b 46 7f ff 04 10 f4 t=-1250\n", -1.25],
])("parseW1Slave() reads t= in °C (%#)", (text, celsius) => {
  assert.equal(parseW1Slave(text), celsius);
});

Deno.test("parseW1Slave() rejects a CRC failure", () => {
  assert.throws(
    () =>
      parseW1Slave(
        "63 01 4b 46 7f ff 0d 10 95 : crc=15 NO\n6f 01 4b 46 7f ff 01 10 67 t=22187\n",
        CRC_FAIL,
      ),
    new RegExp(`1-Wire ${CRC_FAIL}: CRC check failed \\(crc=15 NO\\): sample dropped`),
  );
});

Deno.test("parseW1Slave() rejects the 85000 power-on value and the 127937 no-power value", () => {
  assert.throws(
    () =>
      parseW1Slave("50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n"),
    /85\.000 °C, the power-on value/,
  );
  assert.throws(
    () =>
      parseW1Slave(
        "ff 07 4b 46 7f ff 01 10 2f : crc=2f YES\nff 07 4b 46 7f ff 01 10 2f t=127937\n",
      ),
    /insufficient power/,
  );
});

Deno.test("parseW1Slave() rejects a malformed file", () => {
  assert.throws(() => parseW1Slave(""), /unexpected w1_slave format/);
  assert.throws(
    () => parseW1Slave("00 : crc=00 YES\nno temperature\n"),
    /unexpected w1_slave format/,
  );
});

Deno.test("parseW1Temperature() reads m°C and rejects empty and 85000", () => {
  assert.equal(parseW1Temperature("21687\n"), 21.687);
  assert.throws(() => parseW1Temperature(""), /no temperature available yet/);
  assert.throws(() => parseW1Temperature("85000\n"), /power-on value/);
});

Deno.test("listW1ThermometersSync() lists thermometer ids, not the bus master", () => {
  assert.deepEqual(listW1ThermometersSync(board("rpi-ds18b20")), [GOOD, CRC_FAIL, POWER_ON]);
  assert.equal(listW1ThermometersSync(board("rpi4-bme280")), undefined);
});

Deno.test("createW1Sensor() reads a DS18B20's w1_slave in °C", async () => {
  const s = createW1Sensor({ id: GOOD, sysfsRoot: board("rpi-ds18b20") });
  assert.equal(s.name, GOOD);
  assert.deepEqual(await s.read(7), [
    { sensor: GOOD, name: "temperature", value: 21.687, unit: "°C", ts: 7 },
  ]);
});

Deno.test("createW1Sensor() reads the temperature attribute when asked", async () => {
  const s = createW1Sensor({
    id: GOOD,
    sysfsRoot: board("rpi-ds18b20"),
    attribute: "temperature",
    name: "tank",
  });
  assert.deepEqual(await s.read(7), [
    { sensor: "tank", name: "temperature", value: 21.687, unit: "°C", ts: 7 },
  ]);
});

Deno.test("createW1Sensor() read rejects a CRC failure and the power-on value: an error per sample", async () => {
  const root = board("rpi-ds18b20");
  await assert.rejects(
    createW1Sensor({ id: CRC_FAIL, sysfsRoot: root }).read(0),
    /CRC check failed/,
  );
  await assert.rejects(createW1Sensor({ id: POWER_ON, sysfsRoot: root }).read(0), /power-on/);
  const attr = (id: string) => createW1Sensor({ id, sysfsRoot: root, attribute: "temperature" });
  await assert.rejects(attr(CRC_FAIL).read(0), /no temperature available yet/);
  await assert.rejects(attr(POWER_ON).read(0), /power-on/);
  // On a real kernel a CRC failure on `temperature` is EIO.
  const eio = createW1Sensor({
    id: GOOD,
    sysfsRoot: root,
    attribute: "temperature",
    readText: () => Promise.reject(osError("EIO", "Input/output error (os error 5)")),
  });
  await assert.rejects(eio.read(0), /Input\/output error/);
});

Deno.test("createW1Sensor() names the ids present when the id is missing", () => {
  const root = board("rpi-ds18b20");
  const error = configError(() => createW1Sensor({ id: "28-000005abb69d", sysfsRoot: root }));
  assert.equal(
    error.message,
    `no 1-Wire thermometer "28-000005abb69d" under ${root}/bus/w1/devices ` +
      `(found: ${GOOD}, ${CRC_FAIL}, ${POWER_ON})`,
  );
  const none = configError(() => createW1Sensor({ id: GOOD, sysfsRoot: board("bare") }));
  assert.match(none.message, /bare\/bus\/w1\/devices does not exist\)$/);
  assert.match(none.hint ?? "", /dtoverlay=w1-gpio/);
});

Deno.test("createW1Sensor() read throws when the thermometer disappears at runtime", async () => {
  await using dir = await copyBoard("rpi-ds18b20");
  const s = createW1Sensor({ id: GOOD, sysfsRoot: dir.path });
  assert.equal((await s.read(0))[0].value, 21.687);
  await Deno.remove(`${dir.path}/bus/w1/devices/${GOOD}`);
  await assert.rejects(s.read(0), new RegExp(`1-Wire thermometer "${GOOD}" is gone`));
});
