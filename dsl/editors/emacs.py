"""editors/emacs/kmap-mode.el: an Emacs major mode, generated from vocab.py.

Font-lock colours the word classes of dsl/editors/vocab.py with Emacs's
standard faces (config keys and values only inside ``config { }``, as
the lexer does), the numbers of the grammar (``1UL``), the name after
``task``/``irq``/``softirq``, and ``cpuN`` labels; the syntax table gives C's
comments and strings; indentation follows C's braces (``kmap-indent-offset``,
``case`` at its switch's level, a continuation line under its open
parenthesis); ``.kmap`` files open in the mode; with eglot the language
server is ``kmap lsp``. editors/emacs/test/kmap-mode-tests.el (ERT) tests
it in ``emacs --batch`` (tests/test_emacs.py).
"""

from __future__ import annotations

from kmap_scenarios.dsl.editors.vocab import (BODY_KEYWORDS, CALL_KEYWORDS, CONFIG_CLASSES,
                                              CPU_LABEL_PATTERN, DECIMAL_PATTERN, HEX_PATTERN,
                                              IDENTIFIER_PATTERN, WORDS, WordClass)

EMACS_MODE = "editors/emacs/kmap-mode.el"

# The list variable and the face of each word class.
EMACS_OF: dict[WordClass, tuple[str, str]] = {
    WordClass.KEYWORD: ("kmap-keywords", "font-lock-keyword-face"),
    WordClass.QUANTIFIER: ("kmap-quantifiers", "font-lock-keyword-face"),
    WordClass.TYPE: ("kmap-types", "font-lock-type-face"),
    WordClass.BUILTIN: ("kmap-builtins", "font-lock-builtin-face"),
    WordClass.CONSTANT: ("kmap-constants", "font-lock-constant-face"),
    WordClass.REPORT: ("kmap-reports", "font-lock-warning-face"),
    WordClass.CONFIG_KEY: ("kmap-config-keys", "font-lock-preprocessor-face"),
    WordClass.CONFIG_VALUE: ("kmap-config-values", "font-lock-constant-face"),
}
# The classes coloured everywhere, in the order font-lock tries them (the
# first face given to a character stays).
ROOT_ORDER = (WordClass.KEYWORD, WordClass.QUANTIFIER, WordClass.TYPE, WordClass.BUILTIN,
              WordClass.CONSTANT, WordClass.REPORT)


def elisp_string(text: str) -> str:
    """An Emacs Lisp string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t") + '"'


def emacs_regex(pattern: str) -> str:
    """One of vocab.py's Python patterns in Emacs's regexp syntax: groups
    and alternation take a backslash; ``+``, ``?``, ``[...]`` are alike."""
    return pattern.replace("(?:", "\\(?:").replace("|", "\\|").replace(")", "\\)")


def _words(cls: WordClass) -> list[str]:
    name = EMACS_OF[cls][0]
    words = " ".join(elisp_string(w) for w in WORDS[cls])
    return [f"(defconst {name}", f"  '({words})",
            f'  "The {cls.value.replace("_", " ")} words of the language.")', ""]


def emacs_mode(version: str, generated: str) -> str:
    """The text of editors/emacs/kmap-mode.el."""
    number = emacs_regex(f"\\_<(?:{HEX_PATTERN}|{DECIMAL_PATTERN})\\_>")
    bodies = "|".join(BODY_KEYWORDS + ("softirq",))
    # `task NAME`: group 1 the name (an Emacs regexp, not a vocab pattern)
    body_name = emacs_regex("\\_<(?:" + bodies + ")\\_>") + "[ \t]+\\(\\_<" \
        + IDENTIFIER_PATTERN + "\\_>\\)"
    label = emacs_regex("\\_<" + CPU_LABEL_PATTERN + "\\_>")
    calls = " ".join(elisp_string(w) for w in CALL_KEYWORDS)
    root_rules = [f"    (,(regexp-opt {EMACS_OF[cls][0]} 'symbols) . {EMACS_OF[cls][1]})"
                  for cls in ROOT_ORDER]
    config_rules = [f"    (,(kmap--config-matcher (regexp-opt {EMACS_OF[cls][0]} 'symbols))\n"
                    f"     0 {EMACS_OF[cls][1]})" for cls in CONFIG_CLASSES]
    lines = [
        ";;; kmap-mode.el --- Major mode for kmap scenarios (.kmap)  -*- lexical-binding: t; -*-",
        "",
        ";; Copyright (c) 2026 The kmap-scenarios authors",
        ";; SPDX-License-Identifier: MIT",
        "",
        f";; Version: {version}",
        ';; Package-Requires: ((emacs "25.1"))',
        ";; Keywords: languages",
        "",
        ";;; Commentary:",
        "",
        f";; {generated}",
        ";;",
        ";; Linux kernel kmap scenarios (.kmap files, docs/language.md): font-lock",
        ";; from the language's vocabulary, C comments, C-like indentation, and",
        ";; with eglot the language server `kmap lsp' (pip install",
        ";; 'kmap-scenarios[lsp]').  Install: put this file on `load-path' and",
        ";; (require 'kmap-mode), or M-x package-install-file RET kmap-mode.el.",
        "",
        ";;; Code:",
        "",
        "(defgroup kmap nil",
        '  "Linux kernel kmap scenarios."',
        "  :group 'languages)",
        "",
        "(defcustom kmap-indent-offset 4",
        '  "Columns a block\'s statements are indented by."',
        "  :type 'integer",
        "  :safe #'integerp",
        "  :group 'kmap)",
        "",
        "(defface kmap-number-face",
        "  '((t :inherit font-lock-constant-face))",
        '  "Face of integer literals (`1UL\', `0x10\')."',
        "  :group 'kmap)",
        "",
        *[line for cls in WordClass for line in _words(cls)],
        f"(defconst kmap-call-keywords '({calls})",
        '  "Keywords that are built-ins when a `(\' follows them.")',
        "",
        f"(defconst kmap-number-regexp {elisp_string(number)}",
        '  "An integer literal, with the suffixes of kernel code.")',
        "",
        "(defun kmap--in-config-p (&optional pos)",
        '  "Whether POS (default: point) is inside the braces of `config { }\'."',
        "  (let ((open (nth 1 (save-excursion (syntax-ppss pos)))))   ; it moves point",
        "    (and open",
        "         (eq (char-after open) ?{)",
        "         (save-excursion",
        "           (goto-char open)",
        "           (skip-chars-backward \" \\t\\n\")",
        "           (and (>= (- (point) 6) (point-min))",
        "                (string= (buffer-substring-no-properties (- (point) 6) (point))",
        '                         "config")',
        "                (not (eq (char-syntax (or (char-before (- (point) 6)) ?\\s)) ?w))",
        "                (not (eq (char-syntax (or (char-before (- (point) 6)) ?\\s)) ?_)))))))",
        "",
        "(defun kmap--config-matcher (regexp)",
        '  "A font-lock matcher of REGEXP inside `config { }\' only."',
        "  (lambda (limit)",
        "    (let (found)",
        "      (while (and (not found) (re-search-forward regexp limit t))",
        "        (setq found (save-match-data (kmap--in-config-p (match-beginning 0)))))",
        "      found)))",
        "",
        "(defconst kmap-font-lock-keywords",
        "  `(",
        "    ;; `schedule();' calls the built-in, `schedule a, b;' is the keyword",
        "    (,(concat (regexp-opt kmap-call-keywords 'symbols) \"[ \\t]*(\")",
        "     1 font-lock-builtin-face)",
        "    ;; the name a task, irq or softirq declares",
        f"    ({elisp_string(body_name)}",
        "     1 font-lock-function-name-face)",
        *config_rules,
        *root_rules,
        f"    ({elisp_string(label)} . font-lock-constant-face)",
        "    (,kmap-number-regexp . 'kmap-number-face))",
        '  "Font-lock rules of `kmap-mode\'.")',
        "",
        "(defvar kmap-mode-syntax-table",
        "  (let ((table (make-syntax-table)))",
        "    ;; C's comments: // to the end of the line, /* ... */",
        '    (modify-syntax-entry ?/ ". 124b" table)',
        '    (modify-syntax-entry ?* ". 23" table)',
        '    (modify-syntax-entry ?\\n "> b" table)',
        '    (modify-syntax-entry ?\\" "\\"" table)',
        '    (modify-syntax-entry ?\\\\ "\\\\" table)',
        '    (modify-syntax-entry ?_ "_" table)',
        "    (dolist (c '(?+ ?- ?% ?< ?> ?& ?| ?^ ?! ?= ?~ ?' ?@ ?: ?, ?. ?\\;))",
        '      (modify-syntax-entry c "." table))',
        "    table)",
        '  "Syntax table of `kmap-mode\'.")',
        "",
        "(defun kmap--line-starts-with (regexp)",
        '  "Whether the current line\'s text starts with REGEXP."',
        "  (save-excursion",
        "    (back-to-indentation)",
        "    (looking-at-p regexp)))",
        "",
        "(defun kmap-indent-line ()",
        '  "Indent the current line as C: a level per open brace; a closing',
        "brace, a `case' or `default' label at the level of its opening line;",
        'a line inside parentheses under the first character after the `(\'."',
        "  (interactive)",
        "  (let* ((ppss (save-excursion (syntax-ppss (line-beginning-position))))",
        "         (open (nth 1 ppss))",
        "         (column",
        "          (cond",
        "           ((nth 4 ppss) nil)   ; inside a comment: leave it",
        "           ((nth 3 ppss) nil)   ; inside a string: leave it",
        "           ((and open (eq (char-after open) ?\\())",
        "            (save-excursion",
        "              (goto-char (1+ open))",
        "              (skip-chars-forward \" \\t\")",
        "              (if (eolp) (+ (kmap--indentation-at open) kmap-indent-offset)",
        "                (current-column))))",
        "           (t",
        "            (let ((level (* kmap-indent-offset (kmap--brace-depth ppss))))",
        "              (if (or (kmap--line-starts-with \"[]})]\")",
        '                      (kmap--line-starts-with "\\\\_<\\\\(?:case\\\\|default\\\\)\\\\_>"))',
        "                  (max 0 (- level kmap-indent-offset))",
        "                level))))))",
        "    (when column",
        "      (let ((offset (- (current-column) (current-indentation))))",
        "        (indent-line-to column)",
        "        (when (> offset 0) (forward-char offset))))))",
        "",
        "(defun kmap--indentation-at (pos)",
        '  "The indentation of the line holding POS."',
        "  (save-excursion (goto-char pos) (current-indentation)))",
        "",
        "(defun kmap--brace-depth (ppss)",
        '  "How many braces are open in PPSS (parentheses and brackets not counted)."',
        "  (let ((depth 0))",
        "    (dolist (open (nth 9 ppss) depth)",
        "      (when (eq (char-after open) ?{)",
        "        (setq depth (1+ depth))))))",
        "",
        ";;;###autoload",
        "(define-derived-mode kmap-mode prog-mode \"kmap\"",
        '  "Major mode for Linux kernel kmap scenarios (.kmap files)."',
        "  :syntax-table kmap-mode-syntax-table",
        "  (setq-local font-lock-defaults '(kmap-font-lock-keywords))",
        '  (setq-local comment-start "// ")',
        '  (setq-local comment-end "")',
        '  (setq-local comment-start-skip "\\\\(?://+\\\\|/\\\\*+\\\\)\\\\s *")',
        "  (setq-local indent-line-function #'kmap-indent-line)",
        "  (setq-local indent-tabs-mode nil)   ; the examples' style: spaces",
        "  (setq-local electric-indent-chars (append '(?{ ?} ?: ?\\;) electric-indent-chars)))",
        "",
        ";;;###autoload",
        "(add-to-list 'auto-mode-alist '(\"\\\\.kmap\\\\'\" . kmap-mode))",
        "",
        ";; The language server, for eglot (built into Emacs 29).",
        "(with-eval-after-load 'eglot",
        "  (defvar eglot-server-programs)",
        "  (add-to-list 'eglot-server-programs '(kmap-mode \"kmap\" \"lsp\")))",
        "",
        "(provide 'kmap-mode)",
        "",
        ";;; kmap-mode.el ends here",
    ]
    return "\n".join(lines) + "\n"
