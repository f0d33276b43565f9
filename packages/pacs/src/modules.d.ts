// xhr2 ships no types; dicomweb.ts narrows it to the members it uses.
declare module 'xhr2' {
  const XMLHttpRequest: unknown;
  export default XMLHttpRequest;
}
