import { afterEach, describe, expect, it, vi } from "vitest";

import { LabelClasses, storedClassMemory } from "../src/annotator/classes";
import {
  type ClassSuggestion,
  ClassSuggester,
  SUGGEST_AFTER_MS,
  describeHint,
  describeSuggestion,
  suggestionToHint,
  suggestionToPreselect,
} from "../src/annotator/suggestions";
import type { Rle } from "../src/lib/rle";

const cat: ClassSuggestion = { label_class: 1, name: "cat", confidence: 0.82, preselect: true };
const dog: ClassSuggestion = { label_class: 2, name: "dog", confidence: 0.6, preselect: true };
const unsure: ClassSuggestion = { label_class: 3, name: "fox", confidence: 0.7, preselect: false };
const rle: Rle = { size: [1, 1], counts: "01" };

describe("the class to pre-select", () => {
  it("is the best suggestion of a known class", () => {
    expect(suggestionToPreselect([cat, dog], false, new Set([1, 2]))).toBe(cat);
    expect(suggestionToPreselect([cat, dog], false, new Set([2]))).toBe(dog);
    expect(suggestionToPreselect([], false, new Set([1]))).toBeNull();
  });

  it("is none when the server did not find it confident enough for this project", () => {
    expect(suggestionToPreselect([unsure, cat], false, new Set([1, 3]))).toBeNull();
    expect(suggestionToPreselect([unsure], false, new Set([3]))).toBeNull();
    const unmarked: ClassSuggestion = { label_class: 1, name: "cat", confidence: 0.99 };
    expect(suggestionToPreselect([unmarked], false, new Set([1]))).toBeNull();
  });

  it("is none when the user chose a class for this object", () => {
    expect(suggestionToPreselect([cat], true, new Set([1]))).toBeNull();
  });

  it("is shown with its confidence", () => {
    expect(describeSuggestion("cat", 0.823)).toBe("suggested: cat 82%");
  });
});

describe("the class shown as a hint only", () => {
  it("is the best suggestion of a known class when the server found it not confident enough", () => {
    expect(suggestionToHint([unsure, cat], false, new Set([1, 3]))).toBe(unsure);
    expect(suggestionToHint([unsure, cat], false, new Set([1]))).toBeNull(); // cat would be pre-selected
    expect(suggestionToHint([cat], false, new Set([1]))).toBeNull();
    expect(suggestionToHint([], false, new Set([1]))).toBeNull();
  });

  it("is none when the user chose a class for this object", () => {
    expect(suggestionToHint([unsure], true, new Set([3]))).toBeNull();
  });

  it("is shown with its confidence and the key that takes it", () => {
    expect(describeHint("fox", 0.414, "f")).toBe("maybe: fox 41% (key f)");
    expect(describeHint("fox", 0.414, "")).toBe("maybe: fox 41%");
  });
});

function suggester(answer: () => Promise<ClassSuggestion[]>) {
  const shown: (number | null)[] = [];
  const hinted: (number | null)[] = [];
  const s = new ClassSuggester(
    {
      knownClasses: () => new Set([1, 2, 3]),
      suggest: (id, _confidence, preselect) => (preselect ? shown : hinted).push(id),
    },
    async () => answer(),
  );
  return { s, shown, hinted };
}

describe("the suggester", () => {
  afterEach(() => vi.useRealTimers());

  it("asks once the mask rests, and pre-selects the answer", async () => {
    vi.useFakeTimers();
    const { s, shown } = suggester(async () => [cat]);
    const prompt = {};
    s.maskShown("/suggest/", prompt, () => rle);
    s.maskShown("/suggest/", prompt, () => rle); // the exact mask of the same prompt: no second question
    await vi.advanceTimersByTimeAsync(SUGGEST_AFTER_MS + 1);
    expect(shown).toEqual([1]);
  });

  it("never replaces a class the user chose for the object, until it ends", async () => {
    vi.useFakeTimers();
    const { s, shown } = suggester(async () => [cat]);
    s.userChose();
    s.maskShown("/suggest/", {}, () => rle);
    s.proposalShown("/suggest/", rle, cat);
    await vi.advanceTimersByTimeAsync(SUGGEST_AFTER_MS + 1);
    expect(shown).toEqual([]);
    s.objectEnded(); // the suggestion, if any, ends with the object
    s.maskShown("/suggest/", {}, () => rle);
    await vi.advanceTimersByTimeAsync(SUGGEST_AFTER_MS + 1);
    expect(shown).toEqual([null, 1]);
  });

  it("drops an answer that comes after the user chose or the object ended", async () => {
    let answer: (ranked: ClassSuggestion[]) => void = () => undefined;
    const { s, shown } = suggester(() => new Promise((resolve) => (answer = resolve)));
    s.proposalShown("/suggest/", rle, null); // asked at once
    s.userChose();
    answer([cat]);
    await Promise.resolve();
    await Promise.resolve();
    expect(shown).toEqual([]);
  });

  it("sends no more masks after an empty answer until something is labelled", async () => {
    vi.useFakeTimers();
    let asked = 0;
    const { s, shown } = suggester(async () => (asked++, asked > 1 ? [cat] : []));
    s.maskShown("/suggest/", {}, () => rle);
    await vi.advanceTimersByTimeAsync(SUGGEST_AFTER_MS + 1);
    s.maskShown("/suggest/", {}, () => rle);
    await vi.advanceTimersByTimeAsync(SUGGEST_AFTER_MS + 1);
    expect(asked).toBe(1);
    s.labelled();
    s.maskShown("/suggest/", {}, () => rle);
    await vi.advanceTimersByTimeAsync(SUGGEST_AFTER_MS + 1);
    expect(asked).toBe(2);
    expect(shown).toEqual([1]);
  });

  it("reports every answer dealt with: used, dropped or failed", async () => {
    let answer: (ranked: ClassSuggestion[]) => void = () => undefined;
    let fail: (error: Error) => void = () => undefined;
    let answered = 0;
    const shown: (number | null)[] = [];
    let calls = 0;
    const s = new ClassSuggester(
      { knownClasses: () => new Set([1, 2]), suggest: (id) => shown.push(id), answered: () => answered++ },
      () =>
        new Promise<ClassSuggestion[]>((resolve, reject) => {
          if (calls++ === 0) answer = resolve;
          else fail = reject;
        }),
    );
    s.proposalShown("/suggest/", rle, null);
    s.userChose(); // the answer comes too late: dropped, but dealt with
    answer([cat]);
    await vi.waitFor(() => expect(answered).toBe(1));
    expect(shown).toEqual([]);
    s.objectEnded();
    s.proposalShown("/suggest/", rle, null);
    fail(new Error("offline"));
    await vi.waitFor(() => expect(answered).toBe(2));
    expect(shown).toEqual([null]);
  });

  it("shows a suggestion not confident enough as a hint, not pre-selected", async () => {
    vi.useFakeTimers();
    const { s, shown, hinted } = suggester(async () => [unsure, cat]);
    s.maskShown("/suggest/", {}, () => rle);
    await vi.advanceTimersByTimeAsync(SUGGEST_AFTER_MS + 1);
    expect(shown).toEqual([]);
    expect(hinted).toEqual([3]);
  });

  it("uses a proposal's listed suggestion without asking", () => {
    const { s, shown } = suggester(() => Promise.reject(new Error("not asked")));
    s.proposalShown("/suggest/", rle, dog);
    expect(shown).toEqual([2]);
  });
});

describe("a suggested class", () => {
  it("is current for the object only; the user's choice comes back after it", async () => {
    const person = { id: 1, name: "person", color: "#ff0000", shortcut: "p" };
    const cup = { id: 2, name: "cup", color: "#00ff00", shortcut: "c" };
    const classes = new LabelClasses(async () => [person, cup], storedClassMemory(null, "k"), () => {});
    await classes.ready;
    classes.choose(person);
    classes.suggest(2, 0.7);
    expect(classes.current).toBe(cup);
    expect(classes.suggestion).toEqual({ label: cup, confidence: 0.7 });
    classes.suggest(null);
    expect(classes.current).toBe(person);
    classes.suggest(2, 0.7);
    classes.choose(person); // the user's choice ends the suggestion
    expect(classes.current).toBe(person);
    expect(classes.suggestion).toBeNull();
  });

  it("shown as a hint leaves the current class alone until the user takes it", async () => {
    const person = { id: 1, name: "person", color: "#ff0000", shortcut: "p" };
    const cup = { id: 2, name: "cup", color: "#00ff00", shortcut: "c" };
    let changes = 0;
    const classes = new LabelClasses(async () => [person, cup], storedClassMemory(null, "k"), () => changes++);
    await classes.ready;
    classes.choose(person);
    classes.suggest(2, 0.4, false);
    expect(classes.current).toBe(person);
    expect(classes.hint).toEqual({ label: cup, confidence: 0.4 });
    expect(classes.suggestion).toBeNull();
    const before = changes;
    classes.suggest(2, 0.4, false); // the same hint again: nothing to redraw
    expect(changes).toBe(before);
    classes.suggest(2, 0.9, true); // a pre-selection replaces the hint
    expect(classes.hint).toBeNull();
    expect(classes.current).toBe(cup);
    classes.suggest(2, 0.4, false);
    classes.choose(cup); // the user takes it: it is their choice now
    expect(classes.hint).toBeNull();
    expect(classes.current).toBe(cup);
    classes.suggest(1, 0.3, false);
    classes.suggest(null); // the object ended
    expect(classes.hint).toBeNull();
  });
});
