// Which new payment PINs are too easy to guess: the rule of
// src/domain/pin.rs (`is_trivial`), checked as soon as a new PIN is first
// entered, so a weak one is refused at once rather than after it was typed
// twice. The server checks again; a test in src/domain/pin.rs keeps this
// list the same as its own.

/** PINs people pick first (COMMON_PINS in src/domain/pin.rs). */
export const COMMON_PINS = [
  "123123",
  "112233",
  "111222",
  "121212",
  "123321",
  "520520",
  "520131",
  "147258",
  "159357",
  "789456",
  "456789",
  "987654",
];

/** All one digit or a run up or down (000000, 123456, 654321), a repeated pair or triple, or a common PIN. */
export function isWeakPin(pin) {
  const digits = [...pin].map(Number);
  const steps = digits.slice(1).map((digit, index) => digit - digits[index]);
  const constantStep = steps.every((step) => step === steps[0]);
  const repeatsEvery = (period) => digits.every((digit, index) => digit === digits[index % period]);
  return (constantStep && Math.abs(steps[0]) <= 1) || repeatsEvery(2) || repeatsEvery(3) || COMMON_PINS.includes(pin);
}
