"""The policy source library: clause lookup by label, quotations, and loading errors.

Assertions quote the real texts in rules/sources/, so a parser that cuts a clause short, runs it into
the next one or takes a mid-line bracket for a label fails here.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from engine.errors import UserError
from engine.sources import Clause, SourceLibrary

SOURCES = Path(__file__).resolve().parent.parent / "rules" / "sources"

SKILLS, WORKFORCE, HRSS, FTU18, FTU93 = (
    "SH-SKILLS-PLAN-2018", "SH-WORKFORCE-REFORM", "HRSS-2023-345", "FTU-2023-18", "FTU-2020-93")

# 一 … 三十三 written out, not computed, so the expectation does not share the parser's arithmetic.
NUMERALS = (
    "一 二 三 四 五 六 七 八 九 十 十一 十二 十三 十四 十五 十六 十七 十八 十九 二十 "
    "二十一 二十二 二十三 二十四 二十五 二十六 二十七 二十八 二十九 三十 三十一 三十二 三十三"
).split()


@pytest.fixture(scope="module")
def lib() -> SourceLibrary:
    return SourceLibrary.load(SOURCES)


def squash(text: str) -> str:
    return "".join(text.split())


# --- the library as a whole ---------------------------------------------------------------------

def test_index_lists_the_five_documents_in_order(lib):
    assert lib.docs == [SKILLS, WORKFORCE, HRSS, FTU18, FTU93]
    assert lib.title(HRSS) == "沪人社职〔2023〕345号 关于加强新时代高技能人才队伍建设的实施意见"
    assert lib.document(HRSS).issued == "2023-10-12"  # a string, not a YAML date
    assert lib.has_doc(FTU93) and not lib.has_doc("SH-SKILLS-PLAN-2019")


def test_texts_are_the_published_bytes():
    # Guards against an editor "fixing" whitespace or wraps: citations quote these texts verbatim.
    expected = {
        SKILLS: "14fa85d9c910e85834b07956b3b82eb09542ca8c0d3664d9b3044bc65b48bee3",
        WORKFORCE: "81af2713866f56bf25a03292b1c9b243dada11e3209dd48fcc0c50f8006dc1f8",
        HRSS: "125552c18ed7a3c9b8eb3d05ebb008f610521df855bcf8fed3b639b9b094d4d8",
        FTU18: "06104dfac8a711775d9623c86e7130581a252ddd9ba7afd40a31fe8fed7088d0",
        FTU93: "ac3c4aa755a57447d77e07c8adeae6c18e8ffd17cdb66f64a059a77a628c486f",
    }
    for doc, digest in expected.items():
        assert hashlib.sha256((SOURCES / f"{doc}.txt").read_bytes()).hexdigest() == digest, doc


@pytest.mark.parametrize("doc, count", [(WORKFORCE, 33), (HRSS, 22), (FTU18, 12)])
def test_continuous_labels_run_without_gaps(lib, doc, count):
    assert lib.labels(doc) == [f"（{n}）" for n in NUMERALS[:count]]


def test_sectioned_labels_restart_in_every_section(lib):
    items_per_section = {"一": 3, "二": 10, "三": 9, "四": 5}
    expected = [
        label
        for section, count in items_per_section.items()
        for label in [section, *(f"{section}（{n}）" for n in NUMERALS[:count])]
    ]
    assert lib.labels(SKILLS) == expected


def test_unlabelled_document_is_cited_by_quotation_only(lib):
    assert lib.labels(FTU93) == []
    assert lib.clause(FTU93, "（一）") is None
    # 一是/二是 recur in it, but are not labels; the text is still quotable.
    assert lib.contains_quote(FTU93, "二是探索建立技能人才激励机制")


def test_every_clause_is_a_verbatim_slice_starting_at_its_line(lib):
    for doc in lib.docs:
        lines = lib.document(doc).text.split("\n")
        for label in lib.labels(doc):
            clause = lib.clause(doc, label)
            n = clause.text.count("\n") + 1
            assert clause.text == "\n".join(lines[clause.line - 1: clause.line - 1 + n]), (doc, label)
            assert (clause.doc, clause.label) == (doc, label)


# --- SH-SKILLS-PLAN-2018: ASCII labels, restarting per section --------------------------------

def test_section_and_item_name_one_clause(lib):
    clause = lib.clause(SKILLS, "三（二）")
    assert clause.line == 46
    assert clause.heading == "(二)实施多类型技能人才培养模式"
    assert "企业新型学徒制" in clause.text and "实施精准的培训补贴政策" in clause.text
    # It stops where 三（三） begins.
    assert "(三)健全多元化技能人才评价体系" not in clause.text
    assert clause.text.endswith("开展线上培训与线下实训相结合的“互联网+”培训服务。")


def test_item_numbers_restart_so_the_section_tells_them_apart(lib):
    first, third = lib.clause(SKILLS, "一（二）"), lib.clause(SKILLS, "三（二）")
    assert first != third
    assert (first.line, first.heading) == (5, "(二)基本原则")
    assert lib.clause(SKILLS, "（二）") is None  # ambiguous without its section


@pytest.mark.parametrize("spelling", ["三(二)", "三（二）", "三 ( 二 )", " 三（ 二 ） ", "三、（二）"])
def test_label_spellings_reach_the_same_clause(lib, spelling):
    assert lib.clause(SKILLS, spelling) == lib.clause(SKILLS, "三（二）")


def test_bare_section_is_the_whole_section(lib):
    section = lib.clause(SKILLS, "三")
    assert section.heading == "三、实现路径"
    assert all(lib.clause(SKILLS, f"三（{n}）").text in section.text for n in NUMERALS[:9])
    assert "四、组织保障" not in section.text


def test_brackets_in_mid_line_are_not_labels(lib):
    visa = lib.clause(SKILLS, "三（八）")
    assert "申办5至10年有效期、多次入境的外国人才签证(R字签证)或外国人来华工作许可" in visa.text
    housing = lib.clause(SKILLS, "三（六）")
    # The clause goes on past 购(租)房 to the end of its paragraph.
    assert "发放购(租)房补贴" in housing.text and "推荐就业岗位。" in housing.text
    assert not any("R" in label or "租" in label for label in lib.labels(SKILLS))


def test_labels_count_only_at_line_start(tmp_path):
    # The real texts have no mid-line （二） or 二、, so a small one checks the anchoring itself.
    (tmp_path / "index.yaml").write_text(
        "- {id: T, title: 试, title_en: T, issued: '2024', file: t.txt, labelled: true, numbering: by-section}\n",
        encoding="utf-8")
    (tmp_path / "t.txt").write_text(
        "一、总则\n(一)分为一、二两类。\n另见(二)。\n(二)乙。\n二、附则\n(一)丙。\n", encoding="utf-8")
    lib = SourceLibrary.load(tmp_path)
    assert lib.labels("T") == ["一", "一（一）", "一（二）", "二", "二（一）"]
    assert lib.clause("T", "一（一）").text == "(一)分为一、二两类。\n另见(二)。"


def test_last_item_of_a_section_stops_at_the_next_section(lib):
    clause = lib.clause(SKILLS, "二（十）")
    assert "世界技能大赛" in clause.text
    assert "三、实现路径" not in clause.text


# --- SH-WORKFORCE-REFORM: hard-wrapped, numbered straight through -----------------------------

def test_wrapped_clause_keeps_its_line_breaks_and_its_whole_text(lib):
    clause = lib.clause(WORKFORCE, "（十三）")
    assert clause.line == 313
    assert clause.heading == "（十三）加大对技能要素参与分配的激励力度"
    assert "\n\n" in clause.text  # whitespace as in the file
    assert "建立高级工、技师、高级技师与本单位助理工程师、工程师、高级工程师享受同等待遇的制度。" in squash(clause.text)
    assert "（十四）" not in clause.text


def test_last_item_of_a_section_does_not_swallow_the_next_section_heading(lib):
    clause = lib.clause(WORKFORCE, "（十八）")
    assert "六、加强产业工人公共服务工作" not in clause.text
    assert clause.text.endswith("院校学费承担一点的方式进行筹集。")


def test_quote_across_a_hard_line_wrap(lib):
    # The file breaks this sentence after 补贴方 with a blank line in between.
    assert "职业培训补贴方式" not in lib.document(WORKFORCE).text
    assert lib.contains_quote(WORKFORCE, "积极推进直补个人、直补企业等职业培训补贴方式")


def test_quote_ignores_punctuation_width(lib):
    # The file writes ；, SH-SKILLS-PLAN-2018 writes ASCII , — either spelling matches either text.
    assert lib.contains_quote(WORKFORCE, "调动企业和职工参与培训的积极性;采取整建制购买培训项目")
    assert lib.contains_quote(SKILLS, "实施精准的培训补贴政策，对企业自主开展职工职业培训的")
    assert lib.contains_quote(FTU93, "建立117家面向上下游企业开放的高技能人才培养基地")  # file: "建立 117 家"


def test_quote_within_an_excerpt(lib):
    # The loader checks a rule's quote against the clauses it cites, not the whole document.
    clause = lib.clause(WORKFORCE, "（十七）")
    assert lib.contains_quote(WORKFORCE, "积极推进直补个人、直补企业等职业培训补贴方式", within=clause.text)
    elsewhere = lib.clause(WORKFORCE, "（十三）").text
    assert not lib.contains_quote(WORKFORCE, "积极推进直补个人、直补企业等职业培训补贴方式", within=elsewhere)


def test_quote_not_in_the_text(lib):
    assert not lib.contains_quote(WORKFORCE, "积极推进直补个人、直补企业等职业培训津贴方式")
    assert not lib.contains_quote(HRSS, "积极推进直补个人、直补企业等职业培训补贴方式")  # right words, wrong doc
    assert not lib.contains_quote(WORKFORCE, "  \n")
    assert not lib.contains_quote("NO-SUCH-DOC", "补贴")


# --- HRSS-2023-345 and FTU-2023-18: mixed brackets, inline headings ----------------------------

def test_ascii_and_full_width_labels_are_both_found(lib):
    four, nineteen = lib.clause(HRSS, "(四)"), lib.clause(HRSS, "（十九）")
    assert four.text.startswith("(四)发挥行业企业培养高技能人才主体作用。落实企业职工培训补贴政策")
    assert four.heading == "(四)发挥行业企业培养高技能人才主体作用。"
    assert nineteen.heading == "（十九）推动实施技能领域交流合作。"
    assert lib.clause(HRSS, "（四）") == four


def test_label_followed_by_a_space(lib):
    clause = lib.clause(HRSS, "（ 六 ）")
    assert clause.heading == "(六) 推动产教融合培养高技能人才。"
    assert "产教融合型企业" in clause.text


def test_wrapped_item_keeps_its_continuation_line(lib):
    assert lib.clause(HRSS, "（五）").text.endswith("能培训机构加强急需紧缺高技能人才培养。")


def test_final_clause_leaves_out_the_sign_off(lib):
    last = lib.clause(HRSS, "（二十二）")
    assert last.text.endswith("形成劳动光荣、技能宝贵、创造伟大的时代风尚。")
    assert "中共上海市委组织部" not in last.text and "2023年10月12日" not in last.text
    assert "2023年8月10日" not in lib.clause(FTU18, "（十二）").text


def test_inline_heading_that_wraps_is_joined(lib):
    assert lib.clause(FTU18, "（十二）").heading == "（十二）优化产业工人队伍建设环境，营造崇尚劳动的社会氛围。"
    assert lib.clause(FTU18, "（九）").text.endswith("打造核心人才梯队。")


def test_quote_around_a_stray_conversion_word(lib):
    assert lib.contains_quote(FTU18, "广泛宣传党的二十大精神 and 中央确立的宏伟蓝图")
    assert not lib.contains_quote(FTU18, "广泛宣传党的二十大精神和中央确立的宏伟蓝图")


# --- citations -----------------------------------------------------------------------------

@pytest.mark.parametrize("citation, labels", [
    ("（十）（十七）", ["（十）", "（十七）"]),
    ("(十)、(十七)", ["（十）", "（十七）"]),
    ("三（二）", ["三（二）"]),
    ("三(二)(三)", ["三（二）", "三（三）"]),  # the section carries over
    ("三（七）四（二）", ["三（七）", "四（二）"]),
    ("三", ["三"]),
    ("三、四", ["三", "四"]),
])
def test_split_citation(citation, labels):
    assert SourceLibrary.split_citation(citation) == labels


@pytest.mark.parametrize("citation", ["", "   ", "第三条", "（十十）", "三（二", "(R字签证)"])
def test_split_citation_rejects_what_is_not_a_label(citation):
    with pytest.raises(UserError, match="not a clause label"):
        SourceLibrary.split_citation(citation)


@pytest.mark.parametrize("doc, label", [
    (WORKFORCE, "（三十四）"),
    (SKILLS, "五（一）"),
    (SKILLS, "三（十）"),
    (WORKFORCE, "三"),  # sections of a continuously numbered text are not citation units
    (WORKFORCE, "（十）（十七）"),  # two clauses: split_citation first
    ("NO-SUCH-DOC", "（一）"),
    (HRSS, "nonsense"),
])
def test_unknown_clause_is_none(lib, doc, label):
    assert lib.clause(doc, label) is None


def test_combined_citation_resolves_part_by_part(lib):
    clauses = [lib.clause(WORKFORCE, label) for label in SourceLibrary.split_citation("（十）（十七）")]
    assert [c.heading for c in clauses] == ["（十）聚焦上海新型产业体系建设深化产教融合、校企合作", "（十七）优化补贴方式"]


# --- loading errors --------------------------------------------------------------------------

@pytest.fixture
def copy(tmp_path) -> Path:
    shutil.copytree(SOURCES, tmp_path / "sources")
    return tmp_path / "sources"


def test_missing_index_names_the_file(tmp_path):
    with pytest.raises(UserError, match=r"index\.yaml: cannot read"):
        SourceLibrary.load(tmp_path)


def test_missing_text_names_the_file(copy):
    (copy / "FTU-2023-18.txt").unlink()
    with pytest.raises(UserError, match=r"FTU-2023-18\.txt: cannot read the text of FTU-2023-18"):
        SourceLibrary.load(copy)


def test_malformed_index_entry_is_reported(copy):
    index = copy / "index.yaml"
    index.write_text(index.read_text(encoding="utf-8").replace('issued: "2023-10-12"', "issued: 2023-10-12"),
                     encoding="utf-8")
    with pytest.raises(UserError, match=r"index\.yaml:\d+: document HRSS-2023-345: issued must be"):
        SourceLibrary.load(copy)


def test_index_that_is_not_yaml(copy):
    (copy / "index.yaml").write_text("- id: [unclosed\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"index\.yaml:\d+: not valid YAML"):
        SourceLibrary.load(copy)


def test_label_out_of_sequence_fails_the_load_at_its_line(copy):
    # A stray label, e.g. a wrapped line that happens to start with （五）, must not pass silently.
    path = copy / "FTU-2023-18.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("（六）丰富竞赛活动", "（七）丰富竞赛活动"),
                    encoding="utf-8")
    with pytest.raises(UserError, match=r"FTU-2023-18\.txt:33: label （七） out of sequence: expected （六）"):
        SourceLibrary.load(copy)


def test_clause_equality_ignores_heading_style():
    assert Clause("D", "（一）", "（一）甲。乙", 1, "sentence") == Clause("D", "（一）", "（一）甲。乙", 1)
    assert Clause("D", "（一）", "（一）甲。乙\n丙", 1, "sentence").heading == "（一）甲。"
    assert Clause("D", "（一）", "（一）甲。乙\n丙", 1).heading == "（一）甲。乙"
